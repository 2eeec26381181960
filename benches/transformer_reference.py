#!/usr/bin/env python3
"""Python references of `benches/transformer.rs`: pytorch-grad-cam's `GradCAM` with a
`reshape_transform` (the class token dropped, the 16x16 patch tokens reshaped to a grid) and
jacobgil's attention rollout (`vit_explain`), on the transformer demo model's TorchScript files
and the input the Rust bench wrote. Prints the times beside radlens' and how well the maps agree.

    flock /tmp/cargo.lock cargo bench --bench transformer
    /tmp/pyref/bin/python benches/transformer_reference.py [--runs 20]

Environment as `benches/explain_reference.py` (torch 2.13.0, grad-cam 1.5.7; one thread).

Rollout is run twice: as `vit_explain` has it (`a / a.sum(dim=-1)`, which broadcasts the row
sums along the wrong axis) and with the rows renormalised (`keepdim=True`), which is what
radlens computes (docs/EXPLAIN.md); the agreement is reported against both.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.stats import pearsonr, spearmanr

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "assets/demo/hybrid"
TARGET = ROOT / "target"
GRID, PREFIX = 16, 1


class Features(torch.nn.Module):
    """The traced `features` as a Python module whose output is a new leaf requiring grad, as in
    `benches/explain_reference.py`: the traced files keep their weights as constants, so nothing
    else would require grad, and radlens differentiates `head` w.r.t. the detached tokens too."""

    def __init__(self):
        super().__init__()
        self.module = torch.jit.load(str(MODEL_DIR / "hybrid.features.pt")).eval()

    def forward(self, x):
        return self.module(x).detach().requires_grad_()


class Halves(torch.nn.Module):
    """The two traced halves as modules, so that pytorch-grad-cam's hooks see `features`."""

    def __init__(self):
        super().__init__()
        self.features = Features()
        self.head = torch.jit.load(str(MODEL_DIR / "hybrid.head.pt")).eval()
        # pytorch-grad-cam reads the device from the model's first parameter; the files have none.
        self.device_anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, x):
        return self.head(self.features(x))


def reshape_transform(tokens):
    return tokens[:, PREFIX:, :].reshape(tokens.size(0), GRID, GRID, tokens.size(2)).permute(0, 3, 1, 2)


def rollout(attention, keepdim):
    """vit_explain's rollout (mean fusion, no discarding) of `[1, L, H, T, T]`."""
    t = attention.size(-1)
    result = torch.eye(t)
    with torch.no_grad():
        for layer in range(attention.size(1)):
            fused = attention[:, layer].mean(axis=1)
            a = (fused + torch.eye(t)) / 2
            a = a / a.sum(dim=-1, keepdim=True) if keepdim else a / a.sum(dim=-1)
            result = torch.matmul(a, result)
    return result[0, 0, PREFIX:].reshape(GRID, GRID)


def best_ms(runs, f):
    f()
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        f()
        best = min(best, (time.perf_counter() - started) * 1e3)
    return best


def agreement(ours, reference):
    ours = np.asarray(ours, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    return spearmanr(ours, reference)[0], pearsonr(ours, reference)[0]


def upsample(grid_map):
    """A grid map to the 128x128 input, bilinear as radlens upsamples CAMs."""
    m = torch.as_tensor(np.asarray(grid_map, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(m, size=(128, 128), mode="bilinear", align_corners=False)[0, 0].numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    x = torch.from_numpy(np.load(TARGET / "transformer_bench_input.npy"))[None]
    rust = json.loads((TARGET / "transformer_bench_rust.json").read_text())
    maps = TARGET / "transformer_bench_maps"

    model = Halves().eval()
    cam = GradCAM(model=model, target_layers=[model.features], reshape_transform=reshape_transform)
    targets = [ClassifierOutputTarget(1)]
    gradcam_ms = best_ms(args.runs, lambda: cam(input_tensor=x, targets=targets))
    gradcam = cam(input_tensor=x, targets=targets)[0]

    attention_module = torch.jit.load(str(MODEL_DIR / "hybrid.attention.pt"))

    def python_rollout(keepdim):
        with torch.no_grad():
            return rollout(attention_module(x), keepdim)

    rollout_ms = best_ms(args.runs, lambda: python_rollout(False))
    rollout_orig = upsample(python_rollout(False))
    rollout_rows = upsample(python_rollout(True))
    def forward():
        with torch.no_grad():
            return model(x)

    forward_ms = best_ms(args.runs, forward)

    ours_cam = np.load(maps / "gradcam.npy")
    ours_rollout = np.load(maps / "rollout.npy")
    print("ms per slice (best of %d), one thread" % args.runs)
    print(f"| method | radlens | Python | maps agree (Spearman / Pearson) |")
    print(f"|---|---|---|---|")
    s, p = agreement(ours_cam, gradcam)
    print(f"| gradcam (tokens) | {rust['gradcam']:.1f} | {gradcam_ms:.1f} (pytorch-grad-cam) | {s:.4f} / {p:.4f} |")
    s1, p1 = agreement(ours_rollout, rollout_rows)
    s2, p2 = agreement(ours_rollout, rollout_orig)
    print(f"| rollout | {rust['rollout']:.1f} | {rollout_ms:.1f} (vit_explain) | rows renormalised {s1:.4f} / {p1:.4f}; vit_explain as is {s2:.4f} / {p2:.4f} |")
    print(f"| forward | {rust['forward']:.1f} | {forward_ms:.1f} | |")


if __name__ == "__main__":
    main()
