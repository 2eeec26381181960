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
    /// The modality the model was trained on (DICOM Modality, e.g. `"CT"`); a study of another
    /// modality gets a warning.
    #[serde(default)]
    pub modality: Option<String>,
    /// `sha256 = { "M.pt" = "…", "M.features.pt" = "…" }`: each model file's SHA-256 (hex), checked
    /// before the model is loaded; a model whose files are all listed is shown as verified.
    #[serde(default)]
    pub sha256: std::collections::BTreeMap<String, String>,
}

/// The largest input a manifest may declare: a 4096² image of 64 channels (4 GiB of float32
/// per batch of 64 is where a workstation stops; larger is a typo or a hostile file).
pub const MAX_INPUT_SIDE: u32 = 4096;
pub const MAX_INPUT_CHANNELS: u32 = 64;

/// `[cam]`: where `features`/`head` live and what `features` returns.
///
/// `features = "M.features.pt"`, `head = "M.head.pt"`: two single-method TorchScript files
/// beside the manifest (for exporters such as tch that trace one function per module), each
/// file's `forward` used as `features` resp. `head`; both or neither (then they are methods of
/// `M.pt`). `tokens`: `features` returns transformer tokens, mapped to a grid for the CAMs.
/// `attention = "M.attention.pt"`: a file whose `forward(x)` is the model's attention (else a
/// method `attention` of `M.pt`, if it has one).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CamFiles {
    #[serde(default)]
    pub features: Option<PathBuf>,
    #[serde(default)]
    pub head: Option<PathBuf>,
    #[serde(default)]
    pub tokens: Option<TokenLayout>,
    #[serde(default)]
    pub attention: Option<PathBuf>,
}

impl CamFiles {
    /// The `[cam]` table's own rules (part of [`Manifest`]'s check).
    fn check(&self) -> Result<(), String> {
        if self.features.is_some() != self.head.is_some() {
            return Err(
                "`self.features` and `self.head` come together (or neither: methods of M.pt)"
                    .to_owned(),
            );
        }
        if let Some(tokens) = &self.tokens {
            if tokens.grid.contains(&0) {
                return Err(format!(
                    "`self.tokens.grid` must be two positive sizes, is {:?}",
                    tokens.grid
                ));
            }
            if tokens.layout == TokenOrder::ChannelsLast && tokens.prefix > 0 {
                return Err("`self.tokens.prefix` needs `layout = \"tokens\"`".to_owned());
            }
        }
        let named = [
            ("features", &self.features),
            ("head", &self.head),
            ("attention", &self.attention),
        ];
        for (key, file) in named
            .into_iter()
            .filter_map(|(key, file)| Some((key, file.as_ref()?)))
        {
            if file.is_absolute() || file.components().count() != 1 {
                return Err(format!(
                    "`self.{key}` must be a file name beside the manifest, is {}",
                    file.display()
                ));
            }
        }
        Ok(())
    }

    /// The split's two files, when they are given.
    #[must_use]
    pub fn split(&self) -> Option<(&Path, &Path)> {
        Some((self.features.as_deref()?, self.head.as_deref()?))
    }
}

/// `tokens = { grid = [h, w], prefix = 1 }`: `features(x)` is `[N, T, D]` with `T = prefix +
/// h·w` (class/register tokens first, then the patches in row-major order); or, with `layout =
/// "channels_last"`, `[N, h, w, D]` (Swin, ConvNeXt). The CAMs see `[N, D, h, w]`; `head` still
/// gets what `features` returned (pytorch-grad-cam's `reshape_transform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenLayout {
    /// `[h, w]` of the patch grid.
    pub grid: [u32; 2],
    /// Tokens before the patches (class, distillation, register tokens); `tokens` layout only.
    #[serde(default)]
    pub prefix: u32,
    #[serde(default)]
    pub layout: TokenOrder,
}

/// How `features(x)` lays out a transformer's tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOrder {
    /// `[N, T, D]`.
    #[default]
    Tokens,
    /// `[N, h, w, D]`.
    ChannelsLast,
}

impl TokenLayout {
    /// What the provenance and the model card say: `tokens [N, 1+14x14, D]`.
    #[must_use]
    pub fn describe(&self) -> String {
        let [h, w] = self.grid;
        match self.layout {
            TokenOrder::Tokens if self.prefix > 0 => {
                format!("tokens [N, {}+{h}x{w}, D]", self.prefix)
            }
            TokenOrder::Tokens => format!("tokens [N, {h}x{w}, D]"),
            TokenOrder::ChannelsLast => format!("channels-last [N, {h}, {w}, D]"),
        }
    }
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

    /// The files a model at `model` consists of, with their roles: TorchScript, this manifest,
    /// and the CAM split if any. Outputs never replace one of them; exports hash them.
    #[must_use]
    pub fn files(&self, model: &Path) -> Vec<(&'static str, PathBuf)> {
        let mut files = vec![
            ("model", model.to_owned()),
            ("manifest", Self::path_for(model)),
        ];
        if let Some(cam) = &self.cam {
            let dir = model.parent().unwrap_or(Path::new("."));
            if let Some((features, head)) = cam.split() {
                files.push(("cam_features", dir.join(features)));
                files.push(("cam_head", dir.join(head)));
            }
            if let Some(attention) = &cam.attention {
                files.push(("attention", dir.join(attention)));
            }
        }
        files
    }

    /// Checks each model file listed in `sha256` against its checksum (before libtorch parses it:
    /// a flipped byte must not load and answer differently). Files not listed are not checked.
    pub fn verify_files(&self, model: &Path) -> Result<(), ModelError> {
        for (_, path) in self.files(model) {
            let Some(expected) = path
                .file_name()
                .and_then(|n| self.sha256.get(n.to_string_lossy().as_ref()))
            else {
                continue;
            };
            let (actual, _) = crate::output::sha256_file(&path).map_err(|e| ModelError::Load {
                cause: e.to_string(),
                path: path.clone(),
            })?;
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(ModelError::Checksum {
                    expected: expected.clone(),
                    actual,
                    path,
                });
            }
        }
        Ok(())
    }

    /// Every TorchScript file of the model at `model` has a checksum here (and, once loaded, it
    /// matched): the model card says "verified".
    #[must_use]
    pub fn is_verified(&self, model: &Path) -> bool {
        self.files(model)
            .into_iter()
            .filter(|(role, _)| *role != "manifest")
            .all(|(_, path)| {
                path.file_name()
                    .is_some_and(|n| self.sha256.contains_key(n.to_string_lossy().as_ref()))
            })
    }

    /// The preprocessing steps the manifest leaves to radlens' defaults (empty: all given). A
    /// defaulted step can change the answer, so the model card, `--json` and a warning say so.
    #[must_use]
    pub fn defaulted_preprocessing(&self) -> Vec<&'static str> {
        let p = &self.preprocess;
        let mut defaulted = Vec::new();
        if p.window.is_none() && p.clip.is_none() {
            defaulted.push("scaling: each slice's own min-max (no window or clip)");
        }
        if p.mean.is_empty() {
            defaulted.push("mean 0");
        }
        if p.std.is_empty() {
            defaulted.push("std 1");
        }
        defaulted
    }

    /// A warning when the study's `modality` differs from the one the model was trained on.
    #[must_use]
    pub fn modality_warning(&self, modality: &str) -> Option<String> {
        let trained = self.modality.as_deref()?;
        (!modality.trim().is_empty() && !trained.eq_ignore_ascii_case(modality.trim())).then(|| {
            format!(
                "the model was trained on {trained}, this study is {}: its answers may not \
                 hold",
                crate::dicom::quote(modality.trim())
            )
        })
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
        if channels > MAX_INPUT_CHANNELS || height > MAX_INPUT_SIDE || width > MAX_INPUT_SIDE {
            return Err(format!(
                "`input` {channels}x{height}x{width} is beyond radlens' limit of \
                 {MAX_INPUT_CHANNELS} channels and {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE} pixels"
            ));
        }
        let p = &self.preprocess;
        if p.window.is_some() && p.clip.is_some() {
            return Err("`preprocess` has both `window` and `clip`; choose one".to_owned());
        }
        if let Some(w) = p.window
            && !w.center.is_finite()
        {
            return Err(format!(
                "`preprocess.window` center must be a finite number, is {}",
                w.center
            ));
        }
        if let Some(w) = p.window
            && !(w.width > 0.0 && w.width.is_finite())
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
            cam.check()?;
        }
        for (name, hex) in &self.sha256 {
            let file = Path::new(name);
            if file.is_absolute() || file.components().count() != 1 {
                return Err(format!(
                    "`sha256` keys must be file names beside the manifest, `{}` is not",
                    crate::dicom::quote(name)
                ));
            }
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "`sha256.\"{}\"` is not 64 hex digits",
                    crate::dicom::quote(name)
                ));
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
    fn defaulted_preprocessing_is_named_and_modality_checked() {
        let bare = GOOD
            .replace("window = { center = 40.0, width = 400.0 }", "")
            .replace("mean = [0.5]", "")
            .replace("std = [0.25]", "");
        let m = Manifest::parse(&bare).unwrap();
        assert_eq!(m.defaulted_preprocessing().len(), 3);
        assert!(
            Manifest::parse(GOOD)
                .unwrap()
                .defaulted_preprocessing()
                .is_empty()
        );
        let ct = Manifest::parse(&GOOD.replace("[input]", "modality = \"CT\"\n[input]")).unwrap();
        assert!(ct.modality_warning("CT").is_none());
        assert!(ct.modality_warning("MR").unwrap().contains("trained on CT"));
        assert!(m.modality_warning("MR").is_none());
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
            (
                GOOD.replace("height = 64", "height = 100000"),
                "beyond radlens' limit",
            ),
            (GOOD.replace("channels = 1", "channels = 65"), "beyond"),
            (
                GOOD.replace("center = 40.0", "center = nan"),
                "center must be a finite number",
            ),
            (
                GOOD.replace("[input]", "sha256 = { \"m.pt\" = \"abc\" }\n[input]"),
                "64 hex digits",
            ),
        ];
        for (text, expected) in cases {
            let err = Manifest::parse(&text).expect_err(expected);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(!err.contains('\n'));
        }
    }
}
