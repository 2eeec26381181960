//! Synthetic lesions inserted into real slices, each with its exact ground-truth mask: the demo
//! model's training data and the demo study's findings.
//!
//! A lesion is an irregular ellipse (a few low-frequency harmonics perturb its radius), with a
//! soft edge, a contrast relative to the tissue it sits in (hypo- or hyperdense, in the slice's own
//! units: HU for CT), optionally a core of different contrast (necrosis) and a grainy texture. The
//! tissue's own texture stays visible underneath (the lesion is added, not pasted).
//!
//! [`Lesion::random`] draws every parameter (the demo model's data); [`Lesion::placed`] takes the
//! size, contrast, texture and necrosis from a [`LesionSpec`] and draws only where and how
//! irregular (phantom cohorts whose ground truth is known).

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
    /// Grain of the texture: the standard deviation (pixels) of the Gaussian that smooths it, 0
    /// for independent noise per pixel (what [`Lesion::random`] draws).
    pub grain: f32,
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

/// A lesion's known properties, for [`Lesion::placed`] (mm and slice units).
#[derive(Clone, Debug, PartialEq)]
pub struct LesionSpec {
    /// Long axis of the ellipse before its harmonic perturbation, mm.
    pub diameter_mm: f32,
    /// Short over long axis, in (0, 1].
    pub elongation: f32,
    /// Added to the tissue (slice units); the sign makes it hypo- or hyperdense.
    pub contrast: f32,
    /// Standard deviation of the texture (slice units).
    pub texture: f32,
    /// Grain of the texture (σ of its smoothing), mm; 0 for independent noise per pixel.
    pub grain_mm: f32,
    /// Radius of the necrotic core as a fraction of the lesion's, 0 for none.
    pub necrosis: f32,
    /// Extra contrast of the necrotic core (slice units).
    pub core_contrast: f32,
    /// Values the centre and its surroundings must have (soft tissue), slice units.
    pub tissue: [f32; 2],
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
        let centre = find_centre(rng, values, rows, cols, reach, ranges.tissue)?;
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
            grain: 0.0,
            edge: rng.random_range(0.1..0.4),
        })
    }

    /// A lesion with the size, contrast, texture and necrosis of `spec` in a `rows × cols` slice
    /// with `spacing_mm` (row, col) pixel spacing, placed as [`Lesion::random`] places one (centre
    /// and surroundings in `spec.tissue`); position, orientation, outline harmonics, core size
    /// and edge width are drawn from `rng`. `None` when no place is found.
    pub fn placed(
        rng: &mut impl Rng,
        values: &[f32],
        rows: usize,
        cols: usize,
        spacing_mm: [f32; 2],
        spec: &LesionSpec,
    ) -> Option<Self> {
        let radii = [
            spec.diameter_mm / 2.0 / spacing_mm[0].max(1e-3),
            spec.diameter_mm / 2.0 * spec.elongation.clamp(0.05, 1.0) / spacing_mm[1].max(1e-3),
        ];
        let reach = radii[0].max(radii[1]) * 1.3;
        let centre = find_centre(rng, values, rows, cols, reach, spec.tissue)?;
        let mut harmonic = || {
            (
                rng.random_range(0.0f32..0.12),
                rng.random_range(0.0..std::f32::consts::TAU),
            )
        };
        let harmonics = [harmonic(), harmonic(), harmonic()];
        let pixel_mm = (spacing_mm[0] * spacing_mm[1]).sqrt().max(1e-3);
        Some(Self {
            centre,
            radii,
            angle: rng.random_range(0.0..std::f32::consts::PI),
            harmonics,
            contrast: spec.contrast,
            core_contrast: if spec.necrosis > 0.0 {
                spec.core_contrast
            } else {
                0.0
            },
            core_fraction: spec.necrosis.max(0.0),
            texture: spec.texture.max(0.0),
            grain: spec.grain_mm.max(0.0) / pixel_mm,
            edge: rng.random_range(0.1..0.3),
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

    /// The pixel window `(r0, r1, c0, c1)` of a `rows × cols` slice the lesion can touch.
    fn window(&self, rows: usize, cols: usize) -> (usize, usize, usize, usize) {
        let reach = self.radii[0].max(self.radii[1]) * 1.5;
        let r0 = (self.centre[0] - reach).floor().max(0.0) as usize;
        let r1 = ((self.centre[0] + reach).ceil() as usize).min(rows);
        let c0 = (self.centre[1] - reach).floor().max(0.0) as usize;
        let c1 = ((self.centre[1] + reach).ceil() as usize).min(cols);
        (r0, r1, c0, c1)
    }

    /// The lesion's weight at normalised distance `d`: 1 inside, falling smoothly to 0 over the
    /// edge band around d = 1.
    fn weight(&self, d: f32) -> f32 {
        let t = ((1.0 + self.edge / 2.0 - d) / self.edge).clamp(0.0, 1.0);
        t * t * (3.0 - 2.0 * t)
    }

    /// The mask [`Lesion::insert`] would return, without changing any pixel or drawing anything:
    /// the region a lesion-free case is measured on.
    #[must_use]
    pub fn mask(&self, rows: usize, cols: usize) -> Vec<bool> {
        let mut mask = vec![false; rows * cols];
        let (r0, r1, c0, c1) = self.window(rows, cols);
        for r in r0..r1 {
            for c in c0..c1 {
                mask[r * cols + c] = self.weight(self.distance(r as f32, c as f32)) >= 0.5;
            }
        }
        mask
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
        let (r0, r1, c0, c1) = self.window(rows, cols);
        // A grained texture is drawn for the whole window first; a per-pixel one (grain 0) only
        // where the lesion is, in pixel order, as the demo data was drawn.
        let field = (self.grain > 0.0 && self.texture > 0.0)
            .then(|| smooth_noise(rng, r1 - r0, c1 - c0, self.grain));
        let grain = Normal::new(0.0, self.texture.max(0.0)).ok();
        for r in r0..r1 {
            for c in c0..c1 {
                let d = self.distance(r as f32, c as f32);
                let weight = self.weight(d);
                if weight <= 0.0 {
                    continue;
                }
                let core = if d < self.core_fraction {
                    self.core_contrast
                } else {
                    0.0
                };
                let noise = match &field {
                    Some(f) => self.texture * f[(r - r0) * (c1 - c0) + c - c0],
                    None => grain.map_or(0.0, |g| g.sample(rng)),
                };
                let i = r * cols + c;
                values[i] += weight * (self.contrast + core + noise);
                mask[i] = weight >= 0.5;
            }
        }
        mask
    }
}

/// Gaussian white noise on a `rows × cols` window smoothed by a Gaussian of σ `sigma_px` pixels
/// (separable, edges clamped), rescaled to mean 0 and standard deviation 1 over the window.
fn smooth_noise(rng: &mut impl Rng, rows: usize, cols: usize, sigma_px: f32) -> Vec<f32> {
    let n = rows * cols;
    if n == 0 {
        return Vec::new();
    }
    let white: Vec<f32> = (0..n)
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    let radius = (sigma_px * 3.0).ceil().max(1.0) as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|k| (-0.5 * (k as f32 / sigma_px).powi(2)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let blur = |src: &[f32], along_rows: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; n];
        for r in 0..rows {
            for c in 0..cols {
                let mut acc = 0.0;
                for (j, w) in kernel.iter().enumerate() {
                    let k = j as isize - radius;
                    let (rr, cc) = if along_rows {
                        ((r as isize + k).clamp(0, rows as isize - 1) as usize, c)
                    } else {
                        (r, (c as isize + k).clamp(0, cols as isize - 1) as usize)
                    };
                    acc += w * src[rr * cols + cc];
                }
                out[r * cols + c] = acc / total;
            }
        }
        out
    };
    let mut field = blur(&blur(&white, true), false);
    let mean = field.iter().sum::<f32>() / n as f32;
    let sd = (field.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n as f32).sqrt();
    for v in &mut field {
        *v = (*v - mean) / sd.max(1e-6);
    }
    field
}

/// A centre at least `reach` pixels from the border whose pixel, and at least 7 of 8 points on a
/// ring of radius `reach` around it, have values in `tissue`; up to 400 tries.
fn find_centre(
    rng: &mut impl Rng,
    values: &[f32],
    rows: usize,
    cols: usize,
    reach: f32,
    tissue: [f32; 2],
) -> Option<[f32; 2]> {
    let in_tissue = |r: f32, c: f32| {
        let (r, c) = (r.round(), c.round());
        if r < 0.0 || c < 0.0 || r >= rows as f32 || c >= cols as f32 {
            return false;
        }
        let v = values[r as usize * cols + c as usize];
        v >= tissue[0] && v <= tissue[1]
    };
    (0..400).find_map(|_| {
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
    })
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

    /// The demo model's training data and the demo study are rebuilt bit for bit from fixed seeds:
    /// `Lesion::random` and `insert` must draw exactly as they did when they were built.
    #[test]
    fn random_lesions_draw_as_the_demo_build_did() {
        use sha2::Digest;
        let base = tissue_slice(128, 128);
        let mut hasher = sha2::Sha256::new();
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let lesion =
                Lesion::random(&mut rng, &base, 128, 128, [0.7, 0.7], &LesionRanges::ct()).unwrap();
            let mut values = base.clone();
            let mask = lesion.insert(&mut rng, &mut values, 128, 128);
            let Lesion {
                centre,
                radii,
                angle,
                harmonics,
                contrast,
                core_contrast,
                core_fraction,
                texture,
                edge,
                ..
            } = &lesion;
            let harmonics: Vec<f32> = harmonics.iter().flat_map(|&(a, p)| [a, p]).collect();
            for v in [centre, radii]
                .into_iter()
                .flatten()
                .chain(&harmonics)
                .chain([angle, contrast, core_contrast, core_fraction, texture, edge])
            {
                hasher.update(v.to_le_bytes());
            }
            for v in &values {
                hasher.update(v.to_le_bytes());
            }
            hasher.update(mask.iter().map(|&m| u8::from(m)).collect::<Vec<u8>>());
        }
        let hex: String = hasher
            .finalize()
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .map(|nibble| char::from_digit(u32::from(nibble), 16).unwrap())
            .collect();
        assert_eq!(
            hex,
            "9f4b552719ff6fcf3860511b4221e77c2f3cdc23bce8d8e0687c111ed1f23c1c"
        );
    }

    fn spec(diameter_mm: f32, grain_mm: f32) -> LesionSpec {
        LesionSpec {
            diameter_mm,
            elongation: 1.0,
            contrast: -80.0,
            texture: 20.0,
            grain_mm,
            necrosis: 0.0,
            core_contrast: 0.0,
            tissue: [-50.0, 150.0],
        }
    }

    #[test]
    fn placed_lesions_have_the_asked_size_and_mask_matches_insert() {
        let (rows, cols) = (256, 256);
        let base = tissue_slice(rows, cols);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut areas = Vec::new();
        for diameter_mm in [10.0, 20.0, 40.0] {
            let lesion = Lesion::placed(
                &mut rng,
                &base,
                rows,
                cols,
                [0.5, 0.5],
                &spec(diameter_mm, 0.0),
            )
            .unwrap();
            assert_eq!(lesion.radii, [diameter_mm, diameter_mm]);
            let mut values = base.clone();
            let inserted = lesion.insert(&mut rng, &mut values, rows, cols);
            assert_eq!(lesion.mask(rows, cols), inserted);
            areas.push(inserted.iter().filter(|&&m| m).count());
        }
        // Four times the area for twice the diameter (within the outline's perturbation).
        assert!(areas[0] < areas[1] && areas[1] < areas[2], "{areas:?}");
        let ratio = areas[2] as f32 / areas[1] as f32;
        assert!((2.5..6.0).contains(&ratio), "{areas:?}");
    }

    #[test]
    fn grain_makes_neighbouring_texture_alike() {
        let (rows, cols) = (128, 128);
        let base = vec![40.0; rows * cols];
        // Correlation of horizontally adjacent texture values inside a flat-contrast lesion.
        let neighbour_correlation = |grain_mm: f32| {
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            let mut s = spec(60.0, grain_mm);
            s.contrast = 0.0;
            let lesion = Lesion::placed(&mut rng, &base, rows, cols, [1.0, 1.0], &s).unwrap();
            let mut values = base.clone();
            let mask = lesion.insert(&mut rng, &mut values, rows, cols);
            let pairs: Vec<(f32, f32)> = (0..rows * cols - 1)
                .filter(|&i| mask[i] && mask[i + 1] && (i + 1) % cols != 0)
                .map(|i| (values[i] - 40.0, values[i + 1] - 40.0))
                .collect();
            let n = pairs.len() as f32;
            let (ma, mb) = pairs
                .iter()
                .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
            let cov = pairs.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f32>();
            let va = pairs.iter().map(|p| (p.0 - ma).powi(2)).sum::<f32>();
            let vb = pairs.iter().map(|p| (p.1 - mb).powi(2)).sum::<f32>();
            cov / (va * vb).sqrt()
        };
        let (fine, coarse) = (neighbour_correlation(0.0), neighbour_correlation(3.0));
        assert!(fine.abs() < 0.2, "{fine}");
        assert!(coarse > 0.8, "{coarse}");
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
