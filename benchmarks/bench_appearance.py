"""Appearance Expert on the tiny offline Wan-Animate pipeline: load, animate (relay segments), one
training step of each stage — wall time and peak memory, on the CPU (float32) or CUDA (bf16).

    .venv/bin/python benchmarks/bench_appearance.py [--device cpu|cuda] [--frames 33] [--size 64x64] [--steps 4]
    .venv/bin/python benchmarks/bench_appearance.py --full-size [--peak-tflops 989]

The tiny pipeline is written to a temporary folder and loaded through the project's loader; the
training steps run on a generated one-clip dataset (``write_appearance_dataset``). Timings of the
tiny model measure the plumbing (VAE encodes, conditioning, relay, LoRA/peft, checkpoints), not the
14B model's speed.

``--full-size`` counts, without weights or a GPU, what one official MACE-Dance window costs with the real sizes: each
diffusers component built at the released Wan2.2-Animate-14B configuration on the meta device and run once under
torch's ``FlopCounterMode`` at the official settings (77 control frames + the reference = 21 latent frames ↔ 81 frames,
720×1280 (width×height), 512×512 faces, 20 steps, cfg 1.0 so one transformer pass per step). It prints parameters, bf16 weight size
and FLOPs per window per component, and the time the FLOPs need at a card's dense bf16 peak (a lower bound: real
kernels reach a fraction of it).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path


def full_size(peak_tflops: float) -> None:
    """FLOPs of one 81-frame 720×1280 window of the real-size components, counted on the meta device."""
    import torch
    from diffusers import AutoencoderKLWan, WanAnimateTransformer3DModel
    from diffusers.utils import logging as diffusers_logging
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel
    from transformers.utils import logging as hf_logging

    from macedance.appearance.wan_keys import WAN22_ANIMATE_14B

    hf_logging.set_verbosity_error()
    diffusers_logging.set_verbosity_error()  # the float32-module advice for casting: no weights are loaded here
    bf16 = torch.bfloat16
    H, W, F, LAT = 1280, 720, 77, (77 - 1) // 4 + 1  # pixels, control frames, their latent frames (+1 for the reference)

    def m(*shape: int, dtype=bf16) -> torch.Tensor:
        return torch.empty(shape, device="meta", dtype=dtype)

    def build(cls, *args, **kw):
        with torch.device("meta"):
            return cls(*args, **kw).to(bf16).eval()

    # name, model, one call, calls per window
    parts = [
        ("transformer (DiT + Animate adapter, LoRA fused)", build(WanAnimateTransformer3DModel, **WAN22_ANIMATE_14B),
         lambda t: t(m(1, 36, LAT + 1, H // 8, W // 8), torch.tensor([500], device="meta"), m(1, 512, 4096), m(1, 257, 1280),
                     m(1, 16, LAT, H // 8, W // 8), m(1, 3, F, 512, 512), return_dict=False), 20),
        ("VAE encode (conditioning video, pose video: 77 frames)", build(AutoencoderKLWan),
         lambda v: v.encode(m(1, 3, F, H, W)), 2),
        ("VAE encode (reference image)", build(AutoencoderKLWan), lambda v: v.encode(m(1, 3, 1, H, W)), 1),
        ("VAE decode (21 latent frames → 81 frames)", build(AutoencoderKLWan), lambda v: v.decode(m(1, 16, LAT + 1, H // 8, W // 8)), 1),
        ("text encoder (UMT5-XXL encoder, 512 tokens)",
         build(UMT5EncoderModel, UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                                            feed_forward_proj="gated-gelu")),
         lambda e: e(input_ids=m(1, 512, dtype=torch.long)), 1),
        ("image encoder (CLIP ViT-H/14, reference)",
         build(CLIPVisionModel, CLIPVisionConfig(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                                                 patch_size=14, image_size=224)),
         lambda c: c(m(1, 3, 224, 224), output_hidden_states=True), 1),
    ]
    print("one official window: 77 control frames + reference (81 frames), 720×1280 (width×height), 512×512 faces, 20 steps, cfg 1.0\n")
    print(f"| {'component':<56} | parameters | bf16 weights GiB | calls | TFLOP per window |")
    total = 0.0
    for name, model, call, calls in parts:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            call(model)
        flops = fc.get_total_flops() * calls
        total += flops
        n = sum(p.numel() for p in model.parameters())
        print(f"| {name:<56} | {n / 1e9:8.3f} B | {n * 2 / 2**30:16.2f} | {calls:5d} | {flops / 1e12:16,.0f} |")
    print(f"| {'total':<56} | {'':10} | {'':16} | {'':5} | {total / 1e12:16,.0f} |")
    print(f"\nat {peak_tflops:g} TFLOP/s (dense bf16 peak): ≥ {total / (peak_tflops * 1e12):.0f} s per window")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full-size", action="store_true", help="count the real-size window's FLOPs on the meta device (no weights)")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak for the time bound (H100/H200 SXM: 989)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=33)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    if a.full_size:
        full_size(a.peak_tflops)
        return
    w, h = (int(v) for v in a.size.split("x"))
    import numpy as np
    import torch

    from macedance.appearance.pipeline import AnimateConfig, animate, load_pipeline
    from macedance.appearance.tiny import write_tiny_pipeline
    from macedance.datasets.synthetic_video import write_appearance_dataset
    from macedance.training.appearance import AppearanceTrainConfig, train_appearance

    cuda = a.device.startswith("cuda")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}" + (f", {torch.cuda.get_device_name()}" if cuda else ""))
    rows = []

    def timed(name: str, fn):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        out = fn()
        if cuda:
            torch.cuda.synchronize()
        mem = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, time.perf_counter() - t, mem))
        return out

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = write_tiny_pipeline(tmp / "wan")
        data = write_appearance_dataset(tmp / "data")
        pipe = timed("load pipeline", lambda: load_pipeline(model, device=a.device))
        rng = np.random.default_rng(0)
        pose = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(a.frames)]
        face = [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(a.frames)]
        ref = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        for seg in (a.frames, 9):  # one segment, then relay segments of 9 frames
            cfg = AnimateConfig(width=w, height=h, steps=a.steps, segment_frames=seg)
            v = timed(f"animate {a.frames} frames {w}×{h}, {a.steps} steps, segments of {seg}", lambda cfg=cfg: animate(pipe, ref, pose, face, cfg=cfg))
            assert v.shape == (a.frames, h, w, 3)
        common = dict(width=w, height=h, frames=9, fps=8.0, checkpoint_every=1000, device=a.device)
        for stage, init in (("kinematic", None), ("aesthetic", tmp / "k")):
            run = tmp / stage[0]
            train_appearance(data, model, run, cfg=AppearanceTrainConfig(stage=stage, steps=1, **common), init=init,
                             pipe=load_pipeline(model, device=a.device))  # first step (warm-up) and the run's files
            p = load_pipeline(model, device=a.device)
            s = timed(f"train {stage}: resume + 1 step (9 frames {w}×{h}, grad. ckpt, checkpoint write)",
                      lambda run=run, stage=stage, p=p: train_appearance(data, model, run, cfg=AppearanceTrainConfig(stage=stage, steps=2, **common), resume=True, pipe=p))
            rows[-1] = (rows[-1][0] + f", {s['trainable_parameters']:,} trainable", *rows[-1][1:])
    print(f"\n| {'step':<70} | seconds | peak memory MiB ({'CUDA allocated' if cuda else 'process RSS'}) |")
    for name, sec, mem in rows:
        print(f"| {name:<70} | {sec:7.3f} | {mem:8.0f} |")


if __name__ == "__main__":
    main()
