//! The CPU reference of the slice shader (`shaders/slice.wgsl`): window/level, inversion, heatmap
//! colormap with threshold and opacity, signed maps, mask outline, blending. The GPU test compares
//! the shader against these functions; exports use them to draw without a GPU.

use super::colormap::{LUT_SIZE, lut_index};
use super::window::Window;

/// How a heatmap's raw values become colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeatParams {
    /// Raw value mapped to the bottom of the colormap (unsigned maps).
    pub low: f32,
    /// Raw value mapped to the top (unsigned), or the largest magnitude (signed).
    pub high: f32,
    /// Normalised level in `[0, 1]` below which the overlay is transparent (magnitude for signed).
    pub threshold: f32,
    /// Overlay opacity in `[0, 1]`.
    pub opacity: f32,
    /// Signed attribution: 0 maps to the colormap centre, ±`high` to its ends.
    pub signed: bool,
}

/// Everything that turns a pixel's values into a colour, besides the values themselves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShadeParams {
    pub window: Window,
    /// Display inverted (MONOCHROME1 xor the user's invert toggle).
    pub invert: bool,
    pub heat: Option<HeatParams>,
}

/// Grey level in `[0, 1]` of a modality value.
#[must_use]
pub fn window_grey(value: f32, window: Window, invert: bool) -> f32 {
    let width = window.width.max(1e-6);
    let g = ((value - (window.center - width / 2.0)) / width).clamp(0.0, 1.0);
    if invert { 1.0 - g } else { g }
}

/// Normalised heat position in the colormap, or `None` where the overlay is transparent.
#[must_use]
pub fn heat_position(raw: f32, heat: &HeatParams) -> Option<f32> {
    if !raw.is_finite() {
        return None;
    }
    if heat.signed {
        let magnitude = heat.high.abs().max(1e-12);
        let level = (raw.abs() / magnitude).min(1.0);
        (level >= heat.threshold && level > 0.0)
            .then(|| (0.5 + 0.5 * raw / magnitude).clamp(0.0, 1.0))
    } else {
        let span = (heat.high - heat.low).max(1e-12);
        let t = ((raw - heat.low) / span).clamp(0.0, 1.0);
        (t >= heat.threshold && t > 0.0).then_some(t)
    }
}

/// Final RGBA8 of one pixel: `rgb` is the base image colour in `[0, 1]`.
#[must_use]
pub fn blend(
    rgb: [f32; 3],
    heat_raw: Option<f32>,
    params: &ShadeParams,
    lut: &[[u8; 4]; LUT_SIZE],
) -> [u8; 4] {
    let mut out = rgb;
    if let (Some(heat), Some(raw)) = (params.heat, heat_raw)
        && let Some(t) = heat_position(raw, &heat)
    {
        let c = lut[lut_index(t)];
        let a = heat.opacity.clamp(0.0, 1.0);
        for (o, l) in out.iter_mut().zip(c) {
            *o = *o * (1.0 - a) + f32::from(l) / 255.0 * a;
        }
    }
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    [q(out[0]), q(out[1]), q(out[2]), 255]
}

/// Colour of mask outlines.
pub const OUTLINE_RGB: [u8; 3] = [255, 220, 0];

/// Whether pixel `(x, y)` of a `width`×`height` mask is on the outline: inside the mask with a
/// 4-neighbour outside it (or at the image border).
#[must_use]
pub fn is_outline(mask: &[u8], width: usize, height: usize, x: usize, y: usize) -> bool {
    let inside = |x: usize, y: usize| mask[y * width + x] != 0;
    inside(x, y)
        && (x == 0
            || y == 0
            || x + 1 == width
            || y + 1 == height
            || !inside(x - 1, y)
            || !inside(x + 1, y)
            || !inside(x, y - 1)
            || !inside(x, y + 1))
}

/// Renders a whole greyscale slice as RGBA8 at one image pixel per output pixel (nearest sampling):
/// the reference the GPU output is compared with, and the drawing used by exports.
#[must_use]
pub fn shade_slice(
    values: &[f32],
    width: usize,
    height: usize,
    heat: Option<&[f32]>,
    mask: Option<&[u8]>,
    params: &ShadeParams,
    lut: &[[u8; 4]; LUT_SIZE],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * height * 4);
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            let g = window_grey(values[i], params.window, params.invert);
            let mut px = blend([g; 3], heat.map(|h| h[i]), params, lut);
            if mask.is_some_and(|m| is_outline(m, width, height, x, y)) {
                px = [OUTLINE_RGB[0], OUTLINE_RGB[1], OUTLINE_RGB[2], 255];
            }
            out.extend_from_slice(&px);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::Colormap;

    const W: Window = Window {
        center: 40.0,
        width: 400.0,
    };

    #[test]
    fn window_maps_bounds_to_black_and_white() {
        assert!(window_grey(-160.0, W, false).abs() < 1e-6);
        assert!((window_grey(240.0, W, false) - 1.0).abs() < 1e-6);
        assert!((window_grey(40.0, W, false) - 0.5).abs() < 1e-6);
        assert!((window_grey(-1000.0, W, true) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn heat_below_threshold_is_transparent() {
        let heat = HeatParams {
            low: 0.0,
            high: 1.0,
            threshold: 0.3,
            opacity: 0.5,
            signed: false,
        };
        assert_eq!(heat_position(0.2, &heat), None);
        assert_eq!(heat_position(0.5, &heat), Some(0.5));
    }

    #[test]
    fn signed_heat_is_centred_on_zero() {
        let heat = HeatParams {
            low: 0.0,
            high: 2.0,
            threshold: 0.1,
            opacity: 1.0,
            signed: true,
        };
        assert_eq!(heat_position(-2.0, &heat), Some(0.0));
        assert_eq!(heat_position(2.0, &heat), Some(1.0));
        assert_eq!(heat_position(0.0, &heat), None);
    }

    #[test]
    fn opaque_heat_replaces_the_grey() {
        let lut = Colormap::Hot.lut();
        let params = ShadeParams {
            window: W,
            invert: false,
            heat: Some(HeatParams {
                low: 0.0,
                high: 1.0,
                threshold: 0.0,
                opacity: 1.0,
                signed: false,
            }),
        };
        assert_eq!(
            blend([0.5; 3], Some(1.0), &params, &lut),
            [255, 255, 255, 255]
        );
    }

    #[test]
    fn outline_is_the_mask_border() {
        #[rustfmt::skip]
        let mask = [
            0, 0, 0, 0, 0,
            0, 1, 1, 1, 0,
            0, 1, 1, 1, 0,
            0, 1, 1, 1, 0,
            0, 0, 0, 0, 0,
        ];
        assert!(is_outline(&mask, 5, 5, 1, 1));
        assert!(!is_outline(&mask, 5, 5, 2, 2));
        assert!(!is_outline(&mask, 5, 5, 0, 0));
    }
}
