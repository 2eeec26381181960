//! `M.toml`: what the model expects and how a slice becomes its input (see docs/MODELS.md).

use std::path::{Path, PathBuf};

use super::error::ModelError;
use crate::imaging::Window;

#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub classes: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub input: InputShape,
    #[serde(default)]
    pub preprocess: Preprocess,
    #[serde(default)]
    pub provenance: Provenance,
    /// Where `features`/`head` live when they are not methods of `M.pt` itself.
    #[serde(default)]
    pub cam: Option<CamFiles>,
}

/// `[cam] features = "M.features.pt"`, `head = "M.head.pt"`: two single-method TorchScript files
/// beside the manifest (for exporters such as tch that trace one function per module). Each
/// file's `forward` is used as `features` resp. `head`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CamFiles {
    pub features: PathBuf,
    pub head: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputShape {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
}

/// How a slice becomes the input tensor: values to `[0, 1]` through `window` (HU or intensity), or
/// the `clip` range, or the slice's own min–max when neither is given; then resize to the input
/// size (bilinear), then `(v - mean) / std` per channel (a single value applies to all channels).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Preprocess {
    pub window: Option<Window>,
    pub clip: Option<[f32; 2]>,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct Provenance {
    pub training_data: String,
    pub licence: String,
    pub metrics: toml::Table,
}

impl Manifest {
    /// The manifest beside a model file: `M.pt` → `M.toml`.
    #[must_use]
    pub fn path_for(model: &Path) -> PathBuf {
        model.with_extension("toml")
    }

    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::ManifestRead {
            cause: e.to_string(),
            path: path.to_owned(),
        })?;
        Self::parse(&text).map_err(|reason| ModelError::Manifest {
            reason,
            path: path.to_owned(),
        })
    }

    /// Parses and checks manifest text; the error is the reason, in one line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let manifest: Self = toml::from_str(text).map_err(|e| e.message().replace('\n', " "))?;
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` is empty".to_owned());
        }
        if self.classes.len() < 2 {
            return Err(format!(
                "`classes` needs at least 2 entries, has {}",
                self.classes.len()
            ));
        }
        let InputShape {
            channels,
            height,
            width,
        } = self.input;
        if channels == 0 || height == 0 || width == 0 {
            return Err(format!(
                "`input` must be positive, is {channels}x{height}x{width}"
            ));
        }
        let p = &self.preprocess;
        if p.window.is_some() && p.clip.is_some() {
            return Err("`preprocess` has both `window` and `clip`; choose one".to_owned());
        }
        if let Some(w) = p.window
            && !(w.width > 0.0 && w.width.is_finite() && w.center.is_finite())
        {
            return Err(format!(
                "`preprocess.window` width must be positive, is {}",
                w.width
            ));
        }
        if let Some([lo, hi]) = p.clip
            && lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less)
        {
            return Err(format!(
                "`preprocess.clip` must be [low, high] with low < high, is [{lo}, {hi}]"
            ));
        }
        for (name, values) in [("mean", &p.mean), ("std", &p.std)] {
            if !(values.is_empty() || values.len() == 1 || values.len() == channels as usize) {
                return Err(format!(
                    "`preprocess.{name}` has {} values for {channels} channels",
                    values.len()
                ));
            }
        }
        if let Some(cam) = &self.cam {
            for (key, file) in [("features", &cam.features), ("head", &cam.head)] {
                if file.is_absolute() || file.components().count() != 1 {
                    return Err(format!(
                        "`cam.{key}` must be a file name beside the manifest, is {}",
                        file.display()
                    ));
                }
            }
        }
        if p.std
            .iter()
            .any(|s| s.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
        {
            return Err("`preprocess.std` values must be positive".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "lesion"
        classes = ["absent", "present"]
        [input]
        channels = 1
        height = 64
        width = 64
        [preprocess]
        window = { center = 40.0, width = 400.0 }
        mean = [0.5]
        std = [0.25]
        [provenance]
        training_data = "synthetic lesions in BSD-licensed CT"
        metrics = { auc = 0.97 }
    "#;

    #[test]
    fn a_complete_manifest_parses() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.classes.len(), 2);
        assert_eq!(
            m.preprocess.window,
            Some(Window {
                center: 40.0,
                width: 400.0
            })
        );
        assert_eq!(m.provenance.metrics["auc"].as_float(), Some(0.97));
    }

    #[test]
    fn each_invalid_manifest_gets_its_reason() {
        let cases = [
            (
                GOOD.replace(
                    r#"classes = ["absent", "present"]"#,
                    r#"classes = ["only"]"#,
                ),
                "at least 2",
            ),
            (
                GOOD.replace("height = 64", "height = 0"),
                "must be positive",
            ),
            (GOOD.replace("std = [0.25]", "std = [0.0]"), "std"),
            (
                GOOD.replace("mean = [0.5]", "mean = [0.5, 0.5]"),
                "2 values for 1 channels",
            ),
            (GOOD.replace("width = 400.0 }", "width = -1.0 }"), "window"),
            (
                GOOD.replace("name = \"lesion\"", "name = \"lesion\"\ncolour = 1"),
                "unknown field",
            ),
            (GOOD.replace("[input]", "[inptu]"), "input"),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(&text).expect_err(expected);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(!err.contains('\n'));
        }
    }
}
