//! What a loaded model offers beyond `forward(x)`: each capability is checked once at load and
//! kept with the reason when it is missing, so an explanation method can say what it needs and be
//! refused with that reason.

/// One thing a model may offer beyond `forward(x)`; explanation methods list the ones they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `features(x)` → `A[N, D, h, w]` and `head(A)` → logits, with `head(features(x)) ==
    /// forward(x)` (the CAM family).
    Cam,
    /// Gradients of the logits with respect to the input, through `forward`.
    Gradients,
    /// `attention(x)` → `[N, L, H, T, T]` over tokens with a class token (attention rollout).
    Attention,
}

impl Capability {
    /// What a model needs to offer it, completing "… needs a model that …".
    #[must_use]
    pub fn requirement(self) -> &'static str {
        match self {
            Self::Cam => "exports `features` and `head`",
            Self::Gradients => "is differentiable with respect to its input",
            Self::Attention => "exports `attention(x)` over tokens with a class token",
        }
    }
}

/// Whether a model offers one capability, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    Available,
    Unavailable(String),
}

impl Support {
    #[must_use]
    pub fn is_available(&self) -> bool {
        matches!(self, Self::Available)
    }
}

/// Every capability of a loaded model.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    pub cam: Support,
    pub gradients: Support,
    pub attention: Support,
}

impl Capabilities {
    #[must_use]
    pub fn get(&self, capability: Capability) -> &Support {
        match capability {
            Capability::Cam => &self.cam,
            Capability::Gradients => &self.gradients,
            Capability::Attention => &self.attention,
        }
    }

    /// The first of `needs` this model lacks, with the reason.
    #[must_use]
    pub fn missing<'a>(&'a self, needs: &[Capability]) -> Option<(Capability, &'a str)> {
        needs.iter().find_map(|&c| match self.get(c) {
            Support::Available => None,
            Support::Unavailable(reason) => Some((c, reason.as_str())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_missing_capability_comes_with_its_reason() {
        let capabilities = Capabilities {
            cam: Support::Unavailable("no `features`".to_owned()),
            gradients: Support::Available,
            attention: Support::Unavailable("no `attention`".to_owned()),
        };
        assert_eq!(capabilities.missing(&[]), None);
        assert_eq!(capabilities.missing(&[Capability::Gradients]), None);
        assert_eq!(
            capabilities.missing(&[Capability::Gradients, Capability::Cam]),
            Some((Capability::Cam, "no `features`"))
        );
    }
}
