//! Synthetic lesions inserted into real slices, each with its exact ground-truth mask: the demo
//! model's training data and the demo study's findings.
//!
//! A lesion is an irregular ellipse (a few low-frequency harmonics perturb its radius), with a
//! soft edge, a contrast relative to the tissue it sits in (hypo- or hyperdense, in the slice's own
//! units: HU for CT), optionally a core of different contrast (necrosis) and a grainy texture. The
//! tissue's own texture stays visible underneath (the lesion is added, not pasted).

use rand::Rng;
use rand_distr::{Distribution, Normal};

/// One lesion, in pixel units of the slice it goes into.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesion {
    pub centre: [f32; 2],
    /// Semi-axes (row, col direction before rotation), pixels.
    pub radii: [f32; 2],
    pub angle: f32,
    /// Relative radius perturbation: (amplitude, phase) of harmonics 2, 3, 4.
    pub harmonics: [(f32, f32); 3],
    /// Added to the tissue at the lesion's centre (slice units, e.g. HU).
    pub contrast: f32,
    /// Extra contrast in the core (radius < `core_fraction`), 0 for none.
    pub core_contrast: f32,
    pub core_fraction: f32,
    /// Standard deviation of the lesion's texture (slice units).
    pub texture: f32,
    /// Edge width as a fraction of the radius.
    pub edge: f32,
}

/// Ranges to draw lesions from.
#[derive(Clone, Debug, PartialEq)]
pub struct LesionRanges {
    /// Diameter in mm.
    pub diameter_mm: [f32; 2],
    /// Absolute contrast (slice units); the sign is drawn (hypo- or hyperdense).
    pub contrast: [f32; 2],
    /// Share of hypodense lesions.
    pub hypodense_share: f32,
    /// Values a lesion centre may sit on (soft tissue), slice units.
    pub tissue: [f32; 2],
}

impl LesionRanges {
    /// CT soft-tissue lesions: 15–40 mm, 50–150 HU from the tissue (hypovascular metastases,
    /// necrotic lesions and cysts against enhanced parenchyma; hypervascular lesions), two thirds
    /// hypodense, centred on tissue between −50 and 150 HU.
    #[must_use]
    pub fn ct() -> Self {
        Self {
            diameter_mm: [15.0, 40.0],
            contrast: [50.0, 150.0],
            hypodense_share: 0.67,
            tissue: [-50.0, 150.0],
        }
    }
}

impl Lesion {
    /// Draws a lesion that fits a `rows × cols` slice with `spacing_mm` (row, col) pixel spacing,
    /// centred on a pixel whose value is in `ranges.tissue` and whose neighbourhood is mostly
    /// tissue too. `None` when no such place is found (e.g. a slice of air).
    pub fn random(
        rng: &mut impl Rng,
        values: &[f32],
        rows: usize,
        cols: usize,
        spacing_mm: [f32; 2],
        ranges: &LesionRanges,
    ) -> Option<Self> {
        let diameter = rng.random_range(ranges.diameter_mm[0]..=ranges.diameter_mm[1]);
        let elongation = rng.random_range(0.7f32..=1.0);
        let radii = [
            diameter / 2.0 / spacing_mm[0].max(1e-3),
            diameter / 2.0 * elongation / spacing_mm[1].max(1e-3),
        ];
        let reach = radii[0].max(radii[1]) * 1.3;
        let in_tissue = |r: f32, c: f32| {
            let (r, c) = (r.round(), c.round());
            if r < 0.0 || c < 0.0 || r >= rows as f32 || c >= cols as f32 {
                return false;
            }
            let v = values[r as usize * cols + c as usize];
            v >= ranges.tissue[0] && v <= ranges.tissue[1]
        };
        let centre = (0..400).find_map(|_| {
            let r = rng.random_range(reach..(rows as f32 - reach).max(reach + 1.0));
            let c = rng.random_range(reach..(cols as f32 - reach).max(reach + 1.0));
            // The centre and at least 7 of 8 points on a ring just outside the lesion in tissue.
            let ring = (0..8)
                .filter(|k| {
                    let a = *k as f32 * std::f32::consts::FRAC_PI_4;
                    in_tissue(r + reach * a.sin(), c + reach * a.cos())
                })
                .count();
            (in_tissue(r, c) && ring >= 7).then_some([r, c])
        })?;
        let magnitude = rng.random_range(ranges.contrast[0]..=ranges.contrast[1]);
        let sign = if rng.random::<f32>() < ranges.hypodense_share {
            -1.0
        } else {
            1.0
        };
        let necrotic = rng.random::<f32>() < 0.3;
        let mut harmonic = || {
            (
                rng.random_range(0.0f32..0.12),
                rng.random_range(0.0..std::f32::consts::TAU),
            )
        };
        let harmonics = [harmonic(), harmonic(), harmonic()];
        Some(Self {
            centre,
            radii,
            angle: rng.random_range(0.0..std::f32::consts::PI),
            harmonics,
            contrast: sign * magnitude,
            core_contrast: if necrotic { -magnitude * 0.6 } else { 0.0 },
            core_fraction: rng.random_range(0.3..0.6),
            texture: magnitude * rng.random_range(0.05..0.25),
            edge: rng.random_range(0.1..0.4),
        })
    }

    /// Normalised radial distance of a pixel (1 on the lesion's boundary).
    fn distance(&self, r: f32, c: f32) -> f32 {
        let (dy, dx) = (r - self.centre[0], c - self.centre[1]);
        let (sin, cos) = self.angle.sin_cos();
        let u = (dy * cos + dx * sin) / self.radii[0];
        let v = (-dy * sin + dx * cos) / self.radii[1];
        let phi = v.atan2(u);
        let boundary = 1.0
            + self
                .harmonics
                .iter()
                .zip(2..)
                .map(|(&(a, p), k)| a * (k as f32 * phi + p).cos())
                .sum::<f32>();
        (u * u + v * v).sqrt() / boundary
    }

    /// Adds the lesion to `values` (`rows × cols`) and returns its mask (the pixels where the
    /// lesion weight is at least ½), drawing the texture from `rng`.
    pub fn insert(
        &self,
        rng: &mut impl Rng,
        values: &mut [f32],
        rows: usize,
        cols: usize,
    ) -> Vec<bool> {
        let mut mask = vec![false; rows * cols];
        let reach = self.radii[0].max(self.radii[1]) * 1.5;
        let r0 = (self.centre[0] - reach).floor().max(0.0) as usize;
        let r1 = ((self.centre[0] + reach).ceil() as usize).min(rows);
        let c0 = (self.centre[1] - reach).floor().max(0.0) as usize;
        let c1 = ((self.centre[1] + reach).ceil() as usize).min(cols);
        let grain = Normal::new(0.0, self.texture.max(0.0)).ok();
        for r in r0..r1 {
            for c in c0..c1 {
                let d = self.distance(r as f32, c as f32);
                // Weight 1 inside, falling smoothly to 0 over the edge band around d = 1.
                let t = ((1.0 + self.edge / 2.0 - d) / self.edge).clamp(0.0, 1.0);
                let weight = t * t * (3.0 - 2.0 * t);
                if weight <= 0.0 {
                    continue;
                }
                let core = if d < self.core_fraction {
                    self.core_contrast
                } else {
                    0.0
                };
                let noise = grain.map_or(0.0, |g| g.sample(rng));
                let i = r * cols + c;
                values[i] += weight * (self.contrast + core + noise);
                mask[i] = weight >= 0.5;
            }
        }
        mask
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact: untouched pixels must be bit-identical
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn tissue_slice(rows: usize, cols: usize) -> Vec<f32> {
        // Soft tissue (40 HU) inside a disc, air outside.
        (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                let d = ((r - rows as f32 / 2.0).powi(2) + (c - cols as f32 / 2.0).powi(2)).sqrt();
                if d < rows as f32 * 0.4 { 40.0 } else { -1000.0 }
            })
            .collect()
    }

    #[test]
    fn lesions_sit_in_tissue_with_the_drawn_contrast_and_size() {
        let (rows, cols) = (256, 256);
        let base = tissue_slice(rows, cols);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50 {
            let lesion =
                Lesion::random(&mut rng, &base, rows, cols, [0.8, 0.8], &LesionRanges::ct())
                    .unwrap();
            let mut values = base.clone();
            let mask = lesion.insert(&mut rng, &mut values, rows, cols);
            let inside: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
            // Area of the drawn ellipse within the harmonic perturbation (±36 % radius).
            let area = std::f32::consts::PI * lesion.radii[0] * lesion.radii[1];
            let n = inside.len() as f32;
            assert!(n > area * 0.4 && n < area * 1.9, "{n} px vs ellipse {area}");
            // Every lesion pixel was tissue, and the mean change has the lesion's sign.
            assert!(inside.iter().all(|&i| base[i] == 40.0));
            let change: f32 = inside.iter().map(|&i| values[i] - base[i]).sum::<f32>() / n;
            assert!(
                change * lesion.contrast > 0.0,
                "{change} vs {}",
                lesion.contrast
            );
            // Nothing changes far from the lesion.
            let far = (0..values.len()).filter(|&i| {
                let (r, c) = ((i / cols) as f32, (i % cols) as f32);
                let reach = lesion.radii[0].max(lesion.radii[1]) * 1.6;
                (r - lesion.centre[0]).abs() > reach || (c - lesion.centre[1]).abs() > reach
            });
            assert!(far.into_iter().all(|i| values[i] == base[i]));
        }
    }

    #[test]
    fn no_place_in_air_and_same_seed_same_lesion() {
        let air = vec![-1000.0; 64 * 64];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(Lesion::random(&mut rng, &air, 64, 64, [1.0, 1.0], &LesionRanges::ct()).is_none());
        let base = tissue_slice(128, 128);
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let lesion =
                Lesion::random(&mut rng, &base, 128, 128, [1.0, 1.0], &LesionRanges::ct()).unwrap();
            let mut values = base.clone();
            let mask = lesion.insert(&mut rng, &mut values, 128, 128);
            (lesion, values, mask)
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3).0, draw(4).0);
    }
}
