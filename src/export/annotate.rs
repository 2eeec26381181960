//! The annotated image: the slice as the viewer shows it (window/level, heatmap, mask outline,
//! all drawn by [`crate::imaging::shade_slice`], the CPU reference of the viewer's shader),
//! magnified by whole factors with nearest sampling, and beside it a panel with the colorbar
//! (raw value range, colormap name) and the legend.
//!
//! The legend is built only from [`Legend`]'s fields, none of which is a patient attribute: no
//! DICOM header reaches this file.

use crate::explain::Heatmap;
use crate::imaging::{Colormap, HeatParams, LUT_SIZE, ShadeParams, lut_index, shade_slice};

use super::ExportError;
use super::text::{Canvas, TextStyle, wrap};

/// Magnification of the slice in the export (nearest neighbour, whole factors only, so every
/// exported pixel is exactly one displayed slice pixel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// ×4 up to 128 pixels on the longer side, ×2 up to 256, else native.
    #[default]
    Auto,
    Native,
    X2,
    X4,
}

impl Scale {
    /// The factor for a `rows × cols` slice.
    #[must_use]
    pub fn factor(self, rows: usize, cols: usize) -> usize {
        match self {
            Self::Native => 1,
            Self::X2 => 2,
            Self::X4 => 4,
            Self::Auto => match rows.max(cols) {
                0..=128 => 4,
                129..=256 => 2,
                _ => 1,
            },
        }
    }

    /// `1`, `2`, `4` or `auto`.
    pub fn parse(text: &str) -> Result<Self, ExportError> {
        match text.trim() {
            "1" => Ok(Self::Native),
            "2" => Ok(Self::X2),
            "4" => Ok(Self::X4),
            "auto" => Ok(Self::Auto),
            other => Err(ExportError::Invalid {
                reason: format!("scale must be 1, 2, 4 or auto, not `{other}`"),
            }),
        }
    }
}

/// The slice as it is on screen.
#[derive(Clone, Copy, Debug)]
pub struct DisplayedSlice<'a> {
    /// Modality values (HU for CT), row-major `rows × cols`.
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Window, inversion and heatmap display parameters, as the viewer uses them.
    pub shade: ShadeParams,
    pub colormap: Colormap,
    /// Raw heatmap values on the slice grid (drawn when `shade.heat` is set).
    pub heat: Option<&'a [f32]>,
    /// Region of interest, non-zero inside (its outline is drawn).
    pub mask: Option<&'a [u8]>,
}

/// What the legend says. There is deliberately no field for anything from the DICOM header.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Legend {
    /// Explanation method (CLI name).
    pub method: Option<String>,
    /// Explained class index and name.
    pub target: Option<(usize, String)>,
    /// The model's probability for the target class.
    pub probability: Option<f32>,
    pub model_name: Option<String>,
    /// Slice index in position order and the number of slices.
    pub slice: Option<(usize, usize)>,
    /// Position along the slice normal, mm.
    pub position_mm: Option<f64>,
    /// Smallest and largest raw heatmap value.
    pub heat_range: Option<(f32, f32)>,
    /// The reader's verdict, printed as given (wrapped).
    pub verdict: Option<String>,
}

impl Legend {
    /// Method, target, model and raw range from a heatmap's provenance.
    #[must_use]
    pub fn for_heatmap(heatmap: &Heatmap, probability: Option<f32>) -> Self {
        let p = &heatmap.provenance;
        Self {
            method: Some(p.method.name().to_owned()),
            target: Some((p.target, p.target_name.clone())),
            probability,
            model_name: Some(p.model_name.clone()),
            heat_range: Some(heatmap.range()),
            ..Self::default()
        }
    }
}

/// The viewer's heatmap display parameters for `heatmap` (as the app computes them): the raw
/// min–max (0 to ±max |v| when signed), with the user's threshold and opacity.
#[must_use]
pub fn viewer_heat_params(heatmap: &Heatmap, threshold: f32, opacity: f32) -> HeatParams {
    let (lo, hi) = heatmap.range();
    let signed = heatmap.provenance.signed;
    HeatParams {
        low: if signed { 0.0 } else { lo },
        high: if signed { lo.abs().max(hi.abs()) } else { hi },
        threshold,
        opacity,
        signed,
    }
}

/// An exported picture, RGB8 row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotatedImage {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    /// Where the slice is: top-left corner `[x, y]` and size `[width, height]` in pixels.
    pub image_origin: [usize; 2],
    pub image_size: [usize; 2],
    /// The magnification used.
    pub scale: usize,
}

impl AnnotatedImage {
    /// The slice region's pixels, RGB8 row-major.
    #[must_use]
    pub fn image_region(&self) -> Vec<u8> {
        let [x0, y0] = self.image_origin;
        let [w, h] = self.image_size;
        let mut out = Vec::with_capacity(w * h * 3);
        for y in y0..y0 + h {
            let start = (y * self.width + x0) * 3;
            out.extend_from_slice(&self.rgb[start..start + w * 3]);
        }
        out
    }
}

const FONT_PX: f32 = 13.0;
const MARGIN: usize = 8;
const PANEL_COLUMNS: usize = 36;
const BAR_WIDTH: usize = 16;
const BAR_HEIGHT: usize = 160;
const TEXT: [u8; 3] = [235, 235, 235];
const DIM_TEXT: [u8; 3] = [170, 170, 170];
const BACKGROUND: [u8; 3] = [0, 0, 0];

/// Draws the slice as displayed, magnified by `scale`, with the colorbar and legend beside it.
pub fn annotate(
    slice: &DisplayedSlice<'_>,
    legend: &Legend,
    scale: Scale,
) -> Result<AnnotatedImage, ExportError> {
    let (rows, cols) = (slice.rows, slice.cols);
    let plane = rows * cols;
    let invalid = |reason: String| Err(ExportError::Invalid { reason });
    if plane == 0 {
        return invalid(format!("empty slice {rows}x{cols}"));
    }
    if slice.values.len() != plane {
        return invalid(format!(
            "{} values for a {rows}x{cols} slice",
            slice.values.len()
        ));
    }
    if slice.heat.is_some_and(|h| h.len() != plane) {
        return invalid(format!("heatmap size differs from the {rows}x{cols} slice"));
    }
    if slice.mask.is_some_and(|m| m.len() != plane) {
        return invalid(format!("mask size differs from the {rows}x{cols} slice"));
    }
    let lut = slice.colormap.lut();
    let shaded = shade_slice(
        slice.values,
        cols,
        rows,
        slice.heat,
        slice.mask,
        &slice.shade,
        &lut,
    );
    let factor = scale.factor(rows, cols);
    let (image_w, image_h) = (cols * factor, rows * factor);

    let style = TextStyle::new(FONT_PX)?;
    let line = style.line_height();
    let panel_w = (PANEL_COLUMNS as f32 * style.char_width()).ceil() as usize + 2 * MARGIN;
    let heat = slice.shade.heat.filter(|_| slice.heat.is_some());
    let lines = legend_lines(legend, &slice.shade, slice.colormap, slice.mask.is_some());
    let bar_block = if heat.is_some() {
        BAR_HEIGHT + line + MARGIN
    } else {
        0
    };
    let panel_h = MARGIN + bar_block + lines.len() * line + MARGIN;
    let width = image_w + panel_w;
    let height = image_h.max(panel_h);
    let mut canvas = Canvas::new(width, height, BACKGROUND);

    for y in 0..image_h {
        let row = &shaded[(y / factor) * cols * 4..(y / factor + 1) * cols * 4];
        let out = &mut canvas.rgb[y * width * 3..(y * width + image_w) * 3];
        for (x, px) in out.chunks_exact_mut(3).enumerate() {
            let s = &row[(x / factor) * 4..(x / factor) * 4 + 3];
            px.copy_from_slice(s);
        }
    }

    let x0 = image_w + MARGIN;
    let mut y = MARGIN;
    if let Some(heat) = heat {
        draw_colorbar(&mut canvas, &style, x0, y, &heat, &lut, slice.colormap);
        y += bar_block;
    }
    for (text, colour) in &lines {
        style.draw(&mut canvas, x0, y, text, *colour);
        y += line;
    }
    Ok(AnnotatedImage {
        width,
        height,
        rgb: canvas.rgb,
        image_origin: [0, 0],
        image_size: [image_w, image_h],
        scale: factor,
    })
}

/// The legend's lines and their colours. Only [`Legend`]'s fields and display parameters appear.
fn legend_lines(
    legend: &Legend,
    shade: &ShadeParams,
    colormap: Colormap,
    has_mask: bool,
) -> Vec<(String, [u8; 3])> {
    let mut lines = vec![(format!("radlens {}", env!("CARGO_PKG_VERSION")), DIM_TEXT)];
    let mut push = |label: &str, value: String| {
        for (i, part) in wrap(&value, PANEL_COLUMNS - 9).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            lines.push((format!("{label:<8} {part}"), TEXT));
        }
    };
    if let Some(method) = &legend.method {
        push("method", method.clone());
    }
    if let Some((index, name)) = &legend.target {
        let p = legend
            .probability
            .map(|p| format!(" p={p:.3}"))
            .unwrap_or_default();
        // Rollout's map is the same for every class: the legend must not suggest otherwise.
        let agnostic = legend
            .method
            .as_deref()
            .and_then(|m| crate::explain::Method::parse(m).ok())
            .is_some_and(crate::explain::Method::is_class_agnostic);
        let note = if agnostic {
            " (map class-agnostic)"
        } else {
            ""
        };
        push("target", format!("{index} {name}{p}{note}"));
    }
    if let Some(model) = &legend.model_name {
        push("model", model.clone());
    }
    let w = shade.window;
    push(
        "W/L",
        format!(
            "{} / {}{}",
            number(w.width),
            number(w.center),
            if shade.invert { " inv" } else { "" }
        ),
    );
    // Ordinal and 0-based index both: `--slice 1` is the second slice.
    let at = legend
        .position_mm
        .map(|mm| format!(" at {mm:.1} mm"))
        .unwrap_or_default();
    match legend.slice {
        Some((index, count)) => push(
            "slice",
            format!("{}/{count} (index {index}){at}", index + 1),
        ),
        None if !at.is_empty() => push("slice", at.trim_start().to_owned()),
        None => {}
    }
    if let Some(heat) = &shade.heat {
        push(
            "overlay",
            format!(
                "{} thr {:.2} opac {:.2}",
                colormap.name(),
                heat.threshold,
                heat.opacity
            ),
        );
    }
    if let Some((lo, hi)) = legend.heat_range {
        push("raw", format!("{} .. {}", number(lo), number(hi)));
    }
    if has_mask {
        push("ROI", "mask outline (yellow)".to_owned());
    }
    if let Some(verdict) = legend.verdict.as_deref().filter(|v| !v.trim().is_empty()) {
        lines.push(("verdict:".to_owned(), TEXT));
        for part in wrap(verdict, PANEL_COLUMNS) {
            lines.push((part, TEXT));
        }
    }
    lines
}

/// A raw value, short: fixed-point in the usual range, else scientific.
fn number(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 || (0.01..10_000.0).contains(&a) {
        let text = format!("{v:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }
    } else {
        format!("{v:.2e}")
    }
}

/// A vertical colorbar, top = highest raw value, with its labels and the colormap name. The part
/// of the scale below the threshold (transparent in the image) is drawn dimmed.
fn draw_colorbar(
    canvas: &mut Canvas,
    style: &TextStyle,
    x: usize,
    y: usize,
    heat: &HeatParams,
    lut: &[[u8; 4]; LUT_SIZE],
    colormap: Colormap,
) {
    let last = (BAR_HEIGHT - 1) as f32;
    for r in 0..BAR_HEIGHT {
        let t = 1.0 - r as f32 / last;
        let level = if heat.signed {
            (2.0 * t - 1.0).abs()
        } else {
            t
        };
        let c = lut[lut_index(t)];
        let colour = if level >= heat.threshold && level > 0.0 {
            [c[0], c[1], c[2]]
        } else {
            [c[0] / 3, c[1] / 3, c[2] / 3]
        };
        canvas.fill_rect(x, y + r, BAR_WIDTH, 1, colour);
    }
    let (top, middle, bottom) = if heat.signed {
        let m = heat.high.abs();
        (m, 0.0, -m)
    } else {
        (heat.high, f32::midpoint(heat.low, heat.high), heat.low)
    };
    let line = style.line_height();
    let label_x = x + BAR_WIDTH + 6;
    style.draw(canvas, label_x, y, &number(top), TEXT);
    style.draw(
        canvas,
        label_x,
        y + (BAR_HEIGHT - line) / 2,
        &number(middle),
        TEXT,
    );
    style.draw(
        canvas,
        label_x,
        y + BAR_HEIGHT - line,
        &number(bottom),
        TEXT,
    );
    style.draw(
        canvas,
        x,
        y + BAR_HEIGHT + 2,
        &format!("{} (raw values)", colormap.name()),
        DIM_TEXT,
    );
}

/// Images of the same height side by side, left to right (the comparison layout); the slice
/// region reported is the first image's.
pub fn side_by_side(mut images: Vec<AnnotatedImage>) -> Result<AnnotatedImage, ExportError> {
    if images.len() == 1 {
        return images.pop().ok_or_else(|| ExportError::Invalid {
            reason: "nothing to export".to_owned(),
        });
    }
    let height = images.iter().map(|i| i.height).max().unwrap_or(0);
    let width: usize = images.iter().map(|i| i.width).sum();
    let mut rgb = vec![0u8; width * height * 3];
    let mut x0 = 0;
    for image in &images {
        for y in 0..image.height {
            let from = &image.rgb[y * image.width * 3..(y + 1) * image.width * 3];
            let at = (y * width + x0) * 3;
            rgb[at..at + from.len()].copy_from_slice(from);
        }
        x0 += image.width;
    }
    let first = images.swap_remove(0);
    Ok(AnnotatedImage {
        width,
        height,
        rgb,
        ..first
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::Window;

    fn ramp(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| (i % 97) as f32 * 10.0 - 300.0)
            .collect()
    }

    fn params(heat: bool) -> ShadeParams {
        ShadeParams {
            window: Window {
                center: 40.0,
                width: 400.0,
            },
            invert: false,
            heat: heat.then_some(HeatParams {
                low: 0.0,
                high: 1.0,
                threshold: 0.2,
                opacity: 0.5,
                signed: false,
            }),
        }
    }

    /// The compositor's slice region is `shade_slice` of the same parameters, magnified.
    #[test]
    fn image_region_equals_the_cpu_reference_of_the_shader() {
        let (rows, cols) = (40, 30);
        let values = ramp(rows, cols);
        let heat: Vec<f32> = (0..rows * cols).map(|i| (i % 13) as f32 / 12.0).collect();
        let mut mask = vec![0u8; rows * cols];
        for r in 10..20 {
            for c in 5..15 {
                mask[r * cols + c] = 1;
            }
        }
        let shade = params(true);
        let slice = DisplayedSlice {
            values: &values,
            rows,
            cols,
            shade,
            colormap: Colormap::Inferno,
            heat: Some(&heat),
            mask: Some(&mask),
        };
        let image = annotate(&slice, &Legend::default(), Scale::X2).unwrap();
        assert_eq!(image.scale, 2);
        assert_eq!(image.image_size, [cols * 2, rows * 2]);
        let reference = shade_slice(
            &values,
            cols,
            rows,
            Some(&heat),
            Some(&mask),
            &shade,
            &Colormap::Inferno.lut(),
        );
        let region = image.image_region();
        for y in 0..rows * 2 {
            for x in 0..cols * 2 {
                let got = &region[(y * cols * 2 + x) * 3..][..3];
                let want = &reference[((y / 2) * cols + x / 2) * 4..][..3];
                for (g, w) in got.iter().zip(want) {
                    assert!(g.abs_diff(*w) <= 1, "pixel ({x}, {y}): {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn auto_scale_magnifies_small_matrices_only() {
        assert_eq!(Scale::Auto.factor(28, 28), 4);
        assert_eq!(Scale::Auto.factor(256, 256), 2);
        assert_eq!(Scale::Auto.factor(512, 512), 1);
        assert_eq!(Scale::Native.factor(28, 28), 1);
        assert!(Scale::parse("3").is_err());
    }

    #[test]
    fn colorbar_appears_only_with_a_heatmap() {
        let values = ramp(64, 64);
        let heat = vec![0.5; 64 * 64];
        let with = DisplayedSlice {
            values: &values,
            rows: 64,
            cols: 64,
            shade: params(true),
            colormap: Colormap::Jet,
            heat: Some(&heat),
            mask: None,
        };
        let without = DisplayedSlice {
            shade: params(false),
            heat: None,
            ..with
        };
        let a = annotate(&with, &Legend::default(), Scale::Native).unwrap();
        let b = annotate(&without, &Legend::default(), Scale::Native).unwrap();
        // Jet's top (dark red) is in the panel only when the colorbar is drawn.
        let has_red = |img: &AnnotatedImage| {
            img.rgb
                .chunks_exact(3)
                .any(|p| p[0] > 100 && p[1] < 20 && p[2] < 20)
        };
        assert!(has_red(&a));
        assert!(!has_red(&b));
    }

    #[test]
    fn legend_lines_carry_the_display_facts() {
        let legend = Legend {
            method: Some("gradcam".to_owned()),
            target: Some((1, "lesion".to_owned())),
            probability: Some(0.8734),
            model_name: Some("demo".to_owned()),
            slice: Some((3, 35)),
            position_mm: Some(-12.34),
            heat_range: Some((0.0, 2.5)),
            verdict: Some("agree".to_owned()),
        };
        let text: Vec<String> = legend_lines(&legend, &params(true), Colormap::Jet, true)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let all = text.join("\n");
        for needle in [
            "gradcam",
            "1 lesion p=0.873",
            "400 / 40",
            "4/35 (index 3) at -12.3 mm",
            "jet",
            "0 .. 2.5",
            "ROI",
            "agree",
        ] {
            assert!(all.contains(needle), "{needle} missing in\n{all}");
        }
        assert!(
            text.iter().all(|l| l.chars().count() <= PANEL_COLUMNS),
            "{all}"
        );
    }

    #[test]
    fn mismatched_sizes_are_refused() {
        let values = ramp(8, 8);
        let heat = vec![0.0; 10];
        let slice = DisplayedSlice {
            values: &values,
            rows: 8,
            cols: 8,
            shade: params(true),
            colormap: Colormap::Jet,
            heat: Some(&heat),
            mask: None,
        };
        assert!(annotate(&slice, &Legend::default(), Scale::Native).is_err());
    }
}
