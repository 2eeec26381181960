//! Legend text on an RGB canvas: egui's embedded Hack font (MIT/Bitstream Vera licence, shipped
//! in the `epaint_default_fonts` crate) rasterised by `ab_glyph`. Monospaced, so line widths are
//! known before drawing and wrapping is by character count.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

use super::ExportError;

/// An RGB8 canvas, row-major.
pub(crate) struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: [u8; 3]) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&background);
        }
        Self { width, height, rgb }
    }

    pub fn set(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }

    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, colour: [u8; 3]) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.set(xx, yy, colour);
            }
        }
    }

    /// Blends `colour` over the pixel with `coverage` in `[0, 1]`.
    fn blend(&mut self, x: i64, y: i64, colour: [u8; 3], coverage: f32) {
        let (Ok(x), Ok(y)) = (usize::try_from(x), usize::try_from(y)) else {
            return;
        };
        if x >= self.width || y >= self.height {
            return;
        }
        let a = coverage.clamp(0.0, 1.0);
        let i = (y * self.width + x) * 3;
        for (c, &t) in self.rgb[i..i + 3].iter_mut().zip(&colour) {
            *c = (f32::from(*c) * (1.0 - a) + f32::from(t) * a).round() as u8;
        }
    }
}

/// The legend font at one pixel size.
pub(crate) struct TextStyle {
    font: FontRef<'static>,
    scale: PxScale,
}

impl TextStyle {
    pub fn new(px: f32) -> Result<Self, ExportError> {
        let font = FontRef::try_from_slice(epaint_default_fonts::HACK_REGULAR).map_err(|e| {
            ExportError::Invalid {
                reason: format!("embedded legend font unreadable: {e}"),
            }
        })?;
        Ok(Self {
            font,
            scale: PxScale::from(px),
        })
    }

    /// Height of one line (ascent − descent + line gap), whole pixels.
    pub fn line_height(&self) -> usize {
        let s = self.font.as_scaled(self.scale);
        (s.ascent() - s.descent() + s.line_gap()).ceil() as usize
    }

    /// Advance of one character (the font is monospaced), whole pixels rounded up.
    pub fn char_width(&self) -> f32 {
        let s = self.font.as_scaled(self.scale);
        s.h_advance(s.glyph_id('M'))
    }

    /// Draws one line with its top-left corner at `(x, y)`; returns the width drawn.
    pub fn draw(
        &self,
        canvas: &mut Canvas,
        x: usize,
        y: usize,
        text: &str,
        colour: [u8; 3],
    ) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        let mut caret = point(x as f32, y as f32 + scaled.ascent());
        let start = caret.x;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                caret.x += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(self.scale, caret);
            caret.x += scaled.h_advance(id);
            if let Some(outlined) = self.font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
                outlined.draw(|gx, gy, coverage| {
                    canvas.blend(left + i64::from(gx), top + i64::from(gy), colour, coverage);
                });
            }
        }
        caret.x - start
    }
}

/// Splits `text` into lines of at most `columns` characters, at spaces where possible.
pub(crate) fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= columns {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line: cut it.
            let rest = word.split_off(columns);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert!(wrap("   ", 5).is_empty());
    }

    #[test]
    fn text_leaves_ink_inside_its_line() {
        let style = TextStyle::new(14.0).unwrap();
        let mut canvas = Canvas::new(120, 40, [0, 0, 0]);
        let width = style.draw(&mut canvas, 2, 2, "W/L 40", [255, 255, 255]);
        assert!(width > 30.0, "{width}");
        let inked: Vec<(usize, usize)> = (0..40)
            .flat_map(|y| (0..120).map(move |x| (x, y)))
            .filter(|&(x, y)| canvas.rgb[(y * 120 + x) * 3] > 128)
            .collect();
        assert!(inked.len() > 20, "too little ink: {}", inked.len());
        let line = style.line_height();
        assert!(
            inked
                .iter()
                .all(|&(x, y)| y >= 2 && y < 2 + line && x < 2 + width.ceil() as usize + 1)
        );
    }
}
