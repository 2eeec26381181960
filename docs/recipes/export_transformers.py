#!/usr/bin/env python3
"""Export recipes for transformers and hybrids, as docs/MODELS.md describes them, tried on
timm and torchvision models (random weights: the export does not depend on them), and checked
against pytorch-grad-cam with `reshape_transform` on the same input.

    python3 -m venv /tmp/pyref
    /tmp/pyref/bin/pip install torch==2.13.0 timm==1.0.31 torchvision==0.28.0 grad-cam==1.5.7
    /tmp/pyref/bin/python docs/recipes/export_transformers.py OUT_DIR

For each model it writes OUT_DIR/NAME/{NAME.pt, NAME.features.pt, NAME.head.pt,
[NAME.attention.pt], NAME.toml}, OUT_DIR/NAME/input.npy (the model input, float32 [C, H, W]) and
OUT_DIR/NAME/gradcam_reference.npy (pytorch-grad-cam's Grad-CAM of class 1 on that input, on
the input grid). Then run radlens on the same files:

    radlens explain --model OUT_DIR/NAME/NAME.pt OUT_DIR/NAME/input.npy --method gradcam \
        --target 1 --out OUT_DIR/NAME/gradcam_radlens.npy

and compare the two maps (`compare` below, or the shell loop in docs/MODELS.md).

The split follows docs/MODELS.md: for a class-token model `features` is the tokens entering the
last block and `head` is that block, the final norm and the classifier; for a pooled model (Swin)
`features` is the last stage's output, channels-last, and `head` the norm, pooling and classifier.
Each part is traced as its own module (`torch.jit.trace`), named in the manifest's `[cam]` table.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import timm
import torchvision
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget


class Fn(torch.nn.Module):
    """A module whose forward is `fn(model, x)` (so that each part traces on its own)."""

    def __init__(self, model, fn):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, x):
        return self.fn(self.model, x)


# --- timm ViT and timm's ResNet + ViT hybrids (the CNN lives in `patch_embed`) -------------
def vit_features(m, x):
    x = m.norm_pre(m.patch_drop(m._pos_embed(m.patch_embed(x))))
    for block in m.blocks[:-1]:
        x = block(x)
    return x


def vit_head(m, tokens):
    return m.forward_head(m.norm(m.blocks[-1](tokens)))


def vit_block_attention(block, x):
    a = block.attn
    n, t, c = x.shape
    qkv = a.qkv(block.norm1(x)).reshape(n, t, 3, a.num_heads, c // a.num_heads)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    q, k = a.q_norm(q), a.k_norm(k)
    return ((q * a.scale) @ k.transpose(-2, -1)).softmax(-1)


def vit_attention(m, x):
    x = m.norm_pre(m.patch_drop(m._pos_embed(m.patch_embed(x))))
    maps = []
    for block in m.blocks:
        maps.append(vit_block_attention(block, x))
        x = block(x)
    return torch.stack(maps, 1)  # [N, L, H, T, T]


# --- timm Swin: pooled, channels-last ------------------------------------------------------
def swin_features(m, x):
    return m.layers(m.patch_embed(x))  # [N, h, w, C]


def swin_head(m, f):
    return m.forward_head(m.norm(f))


# --- torchvision ViT ----------------------------------------------------------------------
def tv_features(m, x):
    x = m._process_input(x)
    cls = m.class_token.expand(x.shape[0], -1, -1)
    x = m.encoder.dropout(torch.cat([cls, x], 1) + m.encoder.pos_embedding)
    for layer in m.encoder.layers[:-1]:
        x = layer(x)
    return x


def tv_head(m, tokens):
    return m.heads(m.encoder.ln(m.encoder.layers[-1](tokens))[:, 0])


MANIFEST = """name = "{name} (export recipe, random weights)"
classes = ["absent", "present"]
[input]
channels = {c}
height = {h}
width = {w}
[preprocess]
clip = [0.0, 1.0]
[cam]
features = "{name}.features.pt"
head = "{name}.head.pt"
tokens = {tokens}
{attention}"""


def export(out, name, model, features, head, attention, tokens, reshape, target_layer, shape):
    torch.manual_seed(0)
    model.eval()
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    x = torch.rand(1, *shape)
    with torch.no_grad():
        a = features(model, x)
        assert torch.allclose(head(model, a), model(x), atol=1e-5), f"{name}: split != forward"
    # Traced with autograd on (and without the tracer's re-trace check, which trips over
    # torchvision's attention modules being renamed between the two traces): under no_grad, torchvision's nn.MultiheadAttention takes its fused
    # inference path (`_native_multi_head_attention`), which has no derivative, and the traced
    # files could not be explained by gradients.
    torch.jit.trace(model, x, check_trace=False).save(folder / f"{name}.pt")
    torch.jit.trace(Fn(model, features), x, check_trace=False).save(folder / f"{name}.features.pt")
    torch.jit.trace(Fn(model, head), a, check_trace=False).save(folder / f"{name}.head.pt")
    if attention is not None:
        torch.jit.trace(Fn(model, attention), x, check_trace=False).save(folder / f"{name}.attention.pt")
    c, h, w = shape
    line = f'attention = "{name}.attention.pt"\n' if attention is not None else ""
    (folder / f"{name}.toml").write_text(
        MANIFEST.format(name=name, c=c, h=h, w=w, tokens=tokens, attention=line)
    )
    np.save(folder / "input.npy", x[0].numpy().astype(np.float32))
    cam = GradCAM(model=model, target_layers=[target_layer], reshape_transform=reshape)
    reference = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)])[0]
    np.save(folder / "gradcam_reference.npy", reference.astype(np.float32))
    print(f"{name}: features {tuple(a.shape)}, tokens = {tokens}")


def tokens_to_grid(prefix, h, w):
    def reshape(t):
        return t[:, prefix:, :].reshape(t.size(0), h, w, t.size(2)).permute(0, 3, 1, 2)

    return reshape


def main(out):
    out = Path(out)
    torch.manual_seed(0)
    vit = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=96, in_chans=1, num_classes=2
    )
    export(out, "timm_vit", vit, vit_features, vit_head, vit_attention,
           "{ grid = [6, 6], prefix = 1 }", tokens_to_grid(1, 6, 6), vit.blocks[-2], (1, 96, 96))

    hybrid = timm.create_model(
        "vit_tiny_r_s16_p8_224", pretrained=False, img_size=128, in_chans=1, num_classes=2
    )
    grid = hybrid.patch_embed.grid_size
    export(out, "timm_hybrid", hybrid, vit_features, vit_head, vit_attention,
           f"{{ grid = [{grid[0]}, {grid[1]}], prefix = 1 }}",
           tokens_to_grid(1, *grid), hybrid.blocks[-2], (1, 128, 128))

    swin = timm.models.swin_transformer.SwinTransformer(
        img_size=64, patch_size=4, window_size=4, embed_dim=24, depths=(2, 2),
        num_heads=(2, 4), in_chans=1, num_classes=2,
    )
    export(out, "timm_swin", swin, swin_features, swin_head, None,
           '{ grid = [8, 8], layout = "channels_last" }',
           lambda f: f.permute(0, 3, 1, 2), swin.layers[-1], (1, 64, 64))

    tv = torchvision.models.vision_transformer.VisionTransformer(
        image_size=64, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64,
        num_classes=2,
    )
    # torchvision zero-initialises the classifier: every logit, gradient and CAM would be 0.
    torch.nn.init.normal_(tv.heads.head.weight, std=0.5)
    export(out, "torchvision_vit", tv, tv_features, tv_head, None,
           "{ grid = [4, 4], prefix = 1 }", tokens_to_grid(1, 4, 4),
           tv.encoder.layers[-2], (3, 64, 64))


def compare(out):
    """Pearson and Spearman of radlens' map (min-max scaled) against pytorch-grad-cam's."""
    from scipy.stats import pearsonr, spearmanr

    for folder in sorted(Path(out).iterdir()):
        ours, ref = folder / "gradcam_radlens.npy", folder / "gradcam_reference.npy"
        if not (ours.exists() and ref.exists()):
            continue
        a, b = np.load(ours).ravel(), np.load(ref).ravel()
        a = (a - a.min()) / (a.max() - a.min() + 1e-7)
        print(f"{folder.name}: Pearson {pearsonr(a, b)[0]:.4f}  Spearman {spearmanr(a, b)[0]:.4f}"
              f"  max |diff| {np.abs(a - b).max():.4f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "compare":
        compare(sys.argv[2])
    else:
        main(sys.argv[1])
