//! PALETTE COLOR images: stored indices mapped to RGB through the Red/Green/Blue Palette Color
//! Lookup Tables (PS3.3 C.7.6.3.1.5). dicom-pixeldata leaves indices as they are.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// The three channel tables, already reduced to 8 bits.
pub struct Palette {
    first_mapped: i64,
    red: Vec<u8>,
    green: Vec<u8>,
    blue: Vec<u8>,
}

impl Palette {
    /// Reads the tables; segmented palettes are not supported.
    pub fn from_object(obj: &InMemDicomObject) -> Result<Self, String> {
        let channel = |descriptor: Tag, data: Tag, name: &str| -> Result<(i64, Vec<u8>), String> {
            let desc: Vec<i64> = obj
                .get(descriptor)
                .and_then(|e| e.to_multi_int::<i64>().ok())
                .filter(|d| d.len() == 3)
                .ok_or_else(|| format!("{name} palette descriptor missing"))?;
            let entries = if desc[0] == 0 {
                65_536
            } else {
                desc[0] as usize
            };
            let bits = desc[2];
            let bytes = obj
                .get(data)
                .and_then(|e| e.to_bytes().ok())
                .ok_or_else(|| {
                    format!("{name} palette data missing (segmented palettes are not supported)")
                })?;
            let table: Vec<u8> = if bits > 8 || bytes.len() >= entries * 2 {
                // 16-bit entries, little endian after parsing: keep the high byte.
                bytes
                    .chunks_exact(2)
                    .take(entries)
                    .map(|c| {
                        let v = u16::from_le_bytes([c[0], c[1]]);
                        if bits > 8 { (v >> 8) as u8 } else { v as u8 }
                    })
                    .collect()
            } else {
                bytes.iter().take(entries).copied().collect()
            };
            if table.len() < entries {
                return Err(format!(
                    "{name} palette has {} of {entries} entries",
                    table.len()
                ));
            }
            Ok((desc[1], table))
        };
        let (first_mapped, red) = channel(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "red",
        )?;
        let (_, green) = channel(
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "green",
        )?;
        let (_, blue) = channel(
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            "blue",
        )?;
        Ok(Self {
            first_mapped,
            red,
            green,
            blue,
        })
    }

    /// Maps the indices of one frame (`bits_allocated` 8 or 16, little endian) to RGB.
    pub fn apply(&self, indices: &[u8], bits_allocated: u16, dst: &mut [u8]) -> Result<(), String> {
        let lookup = |index: i64| -> [u8; 3] {
            let last = self.red.len().min(self.green.len()).min(self.blue.len()) - 1;
            let i = (index - self.first_mapped).clamp(0, last as i64) as usize;
            [self.red[i], self.green[i], self.blue[i]]
        };
        match bits_allocated {
            8 => dst
                .chunks_exact_mut(3)
                .zip(indices)
                .for_each(|(px, &index)| px.copy_from_slice(&lookup(i64::from(index)))),
            16 => dst
                .chunks_exact_mut(3)
                .zip(indices.chunks_exact(2))
                .for_each(|(px, b)| {
                    px.copy_from_slice(&lookup(i64::from(u16::from_le_bytes([b[0], b[1]]))));
                }),
            other => return Err(format!("palette indices of {other} bits")),
        }
        Ok(())
    }
}
