//! Heatmap colormaps as 256-entry RGBA lookup tables. The GPU samples exactly these tables (uploaded
//! as a 256×1 texture), so the CPU reference and the shader agree to the last bit.

/// Colormaps for heatmap overlays.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum Colormap {
    #[default]
    Jet,
    Inferno,
    Viridis,
    Hot,
    /// Blue–white–red, centred on zero: for signed attributions.
    Diverging,
}

impl Colormap {
    pub const ALL: [Self; 5] = [
        Self::Jet,
        Self::Inferno,
        Self::Viridis,
        Self::Hot,
        Self::Diverging,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Jet => "jet",
            Self::Inferno => "inferno",
            Self::Viridis => "viridis",
            Self::Hot => "hot",
            Self::Diverging => "diverging",
        }
    }

    /// The 256-entry RGBA table (alpha always 255).
    #[must_use]
    pub fn lut(self) -> [[u8; 4]; LUT_SIZE] {
        std::array::from_fn(|i| {
            let t = i as f32 / (LUT_SIZE - 1) as f32;
            let [r, g, b] = match self {
                Self::Jet => [
                    (1.5 - (4.0 * t - 3.0).abs()).clamp(0.0, 1.0),
                    (1.5 - (4.0 * t - 2.0).abs()).clamp(0.0, 1.0),
                    (1.5 - (4.0 * t - 1.0).abs()).clamp(0.0, 1.0),
                ],
                Self::Hot => [
                    (3.0 * t).clamp(0.0, 1.0),
                    (3.0 * t - 1.0).clamp(0.0, 1.0),
                    (3.0 * t - 2.0).clamp(0.0, 1.0),
                ],
                Self::Inferno => interpolate(&INFERNO, t),
                Self::Viridis => interpolate(&VIRIDIS, t),
                Self::Diverging => interpolate(&COOLWARM, t),
            };
            [to_u8(r), to_u8(g), to_u8(b), 255]
        })
    }
}

pub const LUT_SIZE: usize = 256;

/// Index into a LUT for `t` in `[0, 1]` (clamped); the shader computes the same.
#[must_use]
pub fn lut_index(t: f32) -> usize {
    (t.clamp(0.0, 1.0) * (LUT_SIZE - 1) as f32 + 0.5) as usize
}

fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Evenly spaced anchors (sRGB 0–255) sampled from matplotlib's perceptually uniform maps.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 82, 139],
    [44, 113, 142],
    [33, 145, 140],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];
const INFERNO: [[u8; 3]; 9] = [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
];
/// Moreland's cool-warm diverging map, white-ish at the centre.
const COOLWARM: [[u8; 3]; 5] = [
    [59, 76, 192],
    [141, 176, 254],
    [221, 221, 221],
    [244, 154, 123],
    [180, 4, 38],
];

fn interpolate(anchors: &[[u8; 3]], t: f32) -> [f32; 3] {
    let position = t.clamp(0.0, 1.0) * (anchors.len() - 1) as f32;
    let index = (position.floor() as usize).min(anchors.len() - 2);
    let fraction = position - index as f32;
    std::array::from_fn(|channel| {
        let from = f32::from(anchors[index][channel]);
        let to = f32::from(anchors[index + 1][channel]);
        (from + (to - from) * fraction) / 255.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jet_runs_blue_to_red() {
        let lut = Colormap::Jet.lut();
        assert!(lut[0][2] > 100 && lut[0][0] == 0, "{:?}", lut[0]);
        assert!(lut[255][0] > 100 && lut[255][2] == 0, "{:?}", lut[255]);
    }

    #[test]
    fn diverging_is_neutral_at_the_centre() {
        let mid = Colormap::Diverging.lut()[lut_index(0.5)];
        assert!(mid[0].abs_diff(mid[2]) < 10, "{mid:?}");
    }

    #[test]
    fn lut_index_clamps_and_rounds() {
        assert_eq!(lut_index(-1.0), 0);
        assert_eq!(lut_index(2.0), 255);
        assert_eq!(lut_index(0.5), 128);
    }
}
