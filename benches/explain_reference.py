#!/usr/bin/env python3
"""Python references of `benches/explain.rs`: the same explanations of the demo model with
pytorch-grad-cam, Captum and `lime`, on the same TorchScript files and the same model input.

Run the Rust bench first: it writes the preprocessed input (demo study slice 0, 1x1x128x128) to
`target/explain_bench_input.npy`, each radlens map on the input grid to
`target/explain_bench_maps/METHOD.npy` and its own timings to `target/explain_bench_rust.json`;
this script prints its timings beside radlens' and how well the maps agree (Spearman / Pearson
over the 128x128 pixels). It stops if the model files changed since the Rust bench ran.

    flock /tmp/cargo.lock cargo bench --bench explain
    /tmp/pyref/bin/python benches/explain_reference.py [--threads 1] [--runs 5]

Environment (outside the repository; torch 2.13.0 is the version that saved the files, its PyPI
wheel is a CUDA build that runs on the CPU; about 5 GB, 1-2 min):

    python3 -m venv /tmp/pyref
    /tmp/pyref/bin/pip install torch==2.13.0 grad-cam==1.5.7 captum==0.9.0 lime==0.2.0.1 \
        scikit-image==0.26.0 numpy

Threads: `torch.set_num_threads(1)` by default, as the Rust bench (`--threads 0` keeps torch's
default). Each method runs as radlens runs it by default: target class 1, batches of 16,
Grad-CAM/Grad-CAM++/Score-CAM on the `features` output (the two TorchScript halves wrapped in
Python modules so that hooks work), IG 50 Gauss-Legendre steps from a zero baseline with the
convergence delta, SmoothGrad 50 noisy copies with sigma = 0.15 * (max - min), occlusion window
16 stride 8 baseline 0, KernelSHAP and LIME 1000 samples on skimage SLIC superpixels (~100,
compactness 0.1 on the input scaled to [0, 1]; inside the timed call, as radlens computes its
SLIC per call). Times are the best of N calls after one warm-up call, in ms per slice.

Allocator: as the Rust bench says, glibc's malloc thresholds move the forward pass's speed by up to
~1.5x between processes; `MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824` in
the environment of both runs gives steady, comparable numbers.
"""

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # ScoreCAM's and lime's progress bars

import numpy as np
import torch
from captum.attr import (
    IntegratedGradients,
    KernelShap,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from lime import lime_image
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, ScoreCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.stats import pearsonr, spearmanr
from skimage.segmentation import slic

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "assets/demo/model"
TARGET = ROOT / "target"
CLASS = 1
BATCH = 16
SAMPLES = 1000


class Counted(torch.nn.Module):
    """A TorchScript module as a Python module (hooks work on it) that counts its inputs.

    `cam_layer`: the output is a new leaf that requires grad, so that pytorch-grad-cam's hook sees
    its gradient and the backward pass stops there, as radlens differentiates `head` w.r.t.
    `features(x).detach().requires_grad_()` (the traced files keep their weights as constants:
    nothing else would require grad)."""

    def __init__(self, module, cam_layer=False):
        super().__init__()
        self.module = module
        self.cam_layer = cam_layer
        self.inputs = 0
        # pytorch-grad-cam reads the device from the model's first parameter; the files have none.
        self.device_anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, x):
        self.inputs += x.shape[0]
        out = self.module(x)
        return out.detach().requires_grad_() if self.cam_layer else out


def superpixels(image):
    """SLIC as radlens runs it: ~100 segments, compactness 0.1, on intensities scaled to [0, 1]."""
    lo, hi = float(image.min()), float(image.max())
    scaled = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return slic(
        scaled.astype(np.float64),
        n_segments=100,
        compactness=0.1,
        max_num_iter=10,
        channel_axis=None,
        start_label=0,
    )


def jobs(x):
    """name → (function returning a [128, 128] map, the module whose inputs count)."""
    model = Counted(torch.jit.load(str(MODEL_DIR / "lesion.pt")).eval())
    features = Counted(torch.jit.load(str(MODEL_DIR / "lesion.features.pt")).eval(), cam_layer=True)
    head = torch.jit.load(str(MODEL_DIR / "lesion.head.pt")).eval()
    split = torch.nn.Sequential(features, Counted(head)).eval()
    targets = [ClassifierOutputTarget(CLASS)]
    gradcam = GradCAM(split, target_layers=[split[0]])
    gradcam_pp = GradCAMPlusPlus(split, target_layers=[split[0]])
    scorecam = ScoreCAM(split, target_layers=[split[0]])
    scorecam.batch_size = BATCH
    image = x[0, 0].numpy().astype(np.float64)
    sigma = 0.15 * float(x.max() - x.min())

    def cam(explainer):
        return lambda: explainer(input_tensor=x, targets=targets)[0]

    def ig():
        attributions, _delta = IntegratedGradients(model).attribute(
            x,
            baselines=0.0,
            target=CLASS,
            n_steps=50,
            method="gausslegendre",
            internal_batch_size=BATCH,
            return_convergence_delta=True,
        )
        return attributions[0].sum(0).detach().numpy()

    def smoothgrad():
        attributions = NoiseTunnel(Saliency(model)).attribute(
            x,
            nt_type="smoothgrad",
            nt_samples=50,
            nt_samples_batch_size=BATCH,
            stdevs=sigma,
            target=CLASS,
        )
        return attributions[0].sum(0).detach().numpy()

    def occlusion():
        attributions = Occlusion(model).attribute(
            x,
            sliding_window_shapes=(1, 16, 16),
            strides=(1, 8, 8),
            baselines=0.0,
            target=CLASS,
            perturbations_per_eval=BATCH,
        )
        return attributions[0].sum(0).numpy()

    def kernelshap():
        mask = torch.from_numpy(superpixels(image))[None, None]
        attributions = KernelShap(model).attribute(
            x,
            baselines=0.0,
            target=CLASS,
            feature_mask=mask,
            n_samples=SAMPLES,
            perturbations_per_eval=BATCH,
        )
        return attributions[0].sum(0).numpy()

    def classifier_fn(images):
        # lime hands RGB copies of the grey image (gray2rgb): one channel back.
        batch = torch.from_numpy(np.ascontiguousarray(images[..., 0])).float()[:, None]
        with torch.no_grad():
            return model(batch).numpy()

    def lime():
        explainer = lime_image.LimeImageExplainer(kernel_width=0.25, random_state=0)
        explanation = explainer.explain_instance(
            image,
            classifier_fn,
            labels=(CLASS,),
            top_labels=None,
            hide_color=None,
            num_samples=SAMPLES,
            batch_size=BATCH,
            segmentation_fn=lambda rgb: superpixels(rgb[..., 0]),
            random_seed=0,
        )
        weights = np.zeros(explanation.segments.max() + 1)
        for segment, weight in explanation.local_exp[CLASS]:
            weights[segment] = weight
        return weights[explanation.segments]

    return {
        "gradcam": (cam(gradcam), features),
        "gradcam++": (cam(gradcam_pp), features),
        "scorecam": (cam(scorecam), features),
        "ig": (ig, model),
        "smoothgrad": (smoothgrad, model),
        "occlusion": (occlusion, model),
        "lime": (lime, model),
        "kernelshap": (kernelshap, model),
    }, model


def best_ms(runs, f, warm_up=1):
    """The best of `runs` timed calls of `f` after `warm_up` calls (ms), and `f`'s result."""
    for _ in range(warm_up):
        result = f()
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        f()
        best = min(best, (time.perf_counter() - started) * 1e3)
    return best, result


def raw_throughput(model, x):
    """Inputs/s of batches of 16 copies: forward without autograd; forward + backward to the input.

    Measured after the methods, with a longer warm-up: TorchScript's profiling executor needs a few
    calls per input shape before it runs its optimised graph."""
    batch = x.repeat(BATCH, 1, 1, 1)

    def forward():
        with torch.no_grad():
            return model(batch)

    def forward_backward():
        b = batch.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(b)[:, CLASS].sum(), b)
        return grad

    return (
        BATCH / best_ms(20, forward, warm_up=5)[0] * 1e3,
        BATCH / best_ms(20, forward_backward, warm_up=5)[0] * 1e3,
    )


def agreement(name, python_map):
    path = TARGET / "explain_bench_maps" / f"{name}.npy"
    if not path.exists():
        return "–"
    rust_map = np.load(path).ravel()
    python_map = np.asarray(python_map, dtype=np.float64).ravel()
    if rust_map.std() == 0 or python_map.std() == 0:
        return "constant map"
    return f"{spearmanr(rust_map, python_map)[0]:.3f} / {pearsonr(rust_map, python_map)[0]:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads; 0: default")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per method (best of)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    x = torch.from_numpy(np.load(TARGET / "explain_bench_input.npy")).float()
    assert x.shape == (1, 1, 128, 128), x.shape
    rust_path = TARGET / "explain_bench_rust.json"
    rust = json.loads(rust_path.read_text()) if rust_path.exists() else {}
    for file, digest in rust.get("model_sha256", {}).items():
        if hashlib.sha256((MODEL_DIR / file).read_bytes()).hexdigest() != digest:
            raise SystemExit(
                f"{MODEL_DIR / file} changed since `cargo bench --bench explain` ran: run it again"
            )
    by_method = {row["method"]: row for row in rust.get("methods", [])}

    all_jobs, model = jobs(x)
    rows = []
    for name, (job, counted) in all_jobs.items():
        runs = args.runs if name not in ("gradcam", "gradcam++") else 4 * args.runs
        counted.inputs = 0
        ms, result = best_ms(runs, job)
        rows.append((name, ms, counted.inputs // (runs + 1), agreement(name, result)))
    forward_per_s, backward_per_s = raw_throughput(model, x)

    print(f"torch {torch.__version__}, intra-op threads {torch.get_num_threads()}")
    if rust and rust["threads"] != torch.get_num_threads():
        print(f"note: radlens ran with {rust['threads']} threads: not a like-for-like comparison")
    print(f"raw forward (no_grad), batch {BATCH}: {forward_per_s:.0f} inputs/s")
    print(f"raw forward + backward to the input, batch {BATCH}: {backward_per_s:.0f} inputs/s")
    if rust:
        print(
            f"radlens (target/explain_bench_rust.json, libtorch threads {rust['threads']}): "
            f"raw forward {rust['raw_forward_per_s']:.0f}, "
            f"forward + backward {rust['raw_forward_backward_per_s']:.0f} inputs/s"
        )
    print(
        "\n| method | radlens ms | Python ms | radlens speed-up | Python inputs | Python inputs/s "
        "| Python % of raw | maps: Spearman / Pearson |\n|---|---|---|---|---|---|---|---|"
    )
    for name, ms, inputs, maps in rows:
        per_s = inputs / ms * 1e3
        raw = backward_per_s if name in ("ig", "smoothgrad") else forward_per_s
        share = f"{per_s / raw * 100:.0f} %" if name not in ("gradcam", "gradcam++") else "–"
        rust_ms = by_method.get(name, {}).get("ms")
        rust_col = f"{rust_ms:.2f}" if rust_ms else "–"
        ratio = f"{ms / rust_ms:.2f}×" if rust_ms else "–"
        print(
            f"| {name} | {rust_col} | {ms:.2f} | {ratio} | {inputs} | {per_s:.0f} | {share} "
            f"| {maps} |"
        )


if __name__ == "__main__":
    main()
