//! Persistent settings: one `#[serde(default)]` struct saved through eframe storage. Never holds
//! patient data (recent studies are paths only).

use std::path::PathBuf;

use crate::imaging::{Colormap, Window};

/// A named window preset (CT, in HU).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preset {
    pub name: String,
    pub window: Window,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// CT presets bound to keys `1`–`6`, in order.
    pub ct_presets: Vec<Preset>,
    /// Bilinear display sampling (else nearest).
    pub bilinear: bool,
    pub colormap: Colormap,
    pub heat_opacity: f32,
    pub heat_threshold: f32,
    /// Show the DICOM tag browser panel.
    pub show_tags: bool,
    /// Most recent first; each entry is the set of paths that was opened.
    pub recent: Vec<Vec<PathBuf>>,
    /// Where review files go (`None`: the user's data folder; `$RADLENS_REVIEW_DIR` overrides).
    pub review_dir: Option<PathBuf>,
}

pub const MAX_RECENT: usize = 10;

impl Default for Settings {
    fn default() -> Self {
        let preset = |name: &str, width: f32, center: f32| Preset {
            name: name.to_owned(),
            window: Window { center, width },
        };
        Self {
            ct_presets: vec![
                preset("Lung", 1500.0, -600.0),
                preset("Mediastinum", 400.0, 40.0),
                preset("Abdomen", 400.0, 40.0),
                preset("Liver", 150.0, 90.0),
                preset("Bone", 2000.0, 450.0),
                preset("Brain", 80.0, 40.0),
            ],
            bilinear: true,
            colormap: Colormap::Jet,
            heat_opacity: 0.5,
            heat_threshold: 0.2,
            show_tags: true,
            recent: Vec::new(),
            review_dir: None,
        }
    }
}

impl Settings {
    /// Remembers `paths` as the most recent study.
    pub fn remember(&mut self, paths: &[PathBuf]) {
        self.recent.retain(|r| r.as_slice() != paths);
        self.recent.insert(0, paths.to_vec());
        self.recent.truncate(MAX_RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_settings_files_keep_defaults_for_new_fields() {
        let settings: Settings = serde_json::from_str(r#"{"bilinear": false}"#).unwrap();
        assert!(!settings.bilinear);
        assert_eq!(
            settings.ct_presets[0].window,
            Window {
                center: -600.0,
                width: 1500.0
            }
        );
    }

    #[test]
    fn recent_studies_are_unique_and_bounded() {
        let mut settings = Settings::default();
        for i in 0..15 {
            settings.remember(&[PathBuf::from(format!("/s/{i}"))]);
        }
        settings.remember(&[PathBuf::from("/s/3")]);
        assert_eq!(settings.recent.len(), MAX_RECENT);
        assert_eq!(settings.recent[0], vec![PathBuf::from("/s/3")]);
        assert_eq!(
            settings
                .recent
                .iter()
                .filter(|r| r[0] == std::path::Path::new("/s/3"))
                .count(),
            1
        );
    }
}
